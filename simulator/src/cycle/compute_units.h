// The compute side of the cycle engine: the matrix units (docs/timing.md rule 5) and the vector unit
// (rule 6). Kernel thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <systemc>
#include <utility>
#include <vector>

#include "job.h"
#include "wiring.h"

namespace tpusim::simulator::cycle {

// The matrix units (rule 5, per unit since version 4): each unit feeds one MATMUL's rows at a time
// and pipelines them; the compute queue hands a MATMUL to its unit (mxu field) at its start s. The
// unit is free for its next MATMUL at s + job.mxu->ReleaseCycles(B) (WS: s + B; OS: s + E(B)), and
// the results land in the accumulators at s + job.mxu->MatmulCycles(B) (WS: s + B + R + C - 2;
// OS: after its passes and the last pass's drain, see mxu_timing_os.cc); several MATMULs may be in
// one array at once, and the units run concurrently. The data effect (the pop from its unit's
// weights and every accumulator row, computed by the functional Executor with the same numerics) is
// applied at the start: later MATMULs pop later tiles, and every reader of the accumulators waits
// for the completion.
class Mxu : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Mxu);
  Mxu(sc_core::sc_module_name name, Wiring* wiring);
  void Reset();  // a new launch: the job's units, all free from cycle 0
  // The first cycle at which `unit` may start feeding another MATMUL (unit < the job's units).
  uint64_t FreeAt(size_t unit) const { return units_[unit].free_at; }
  void Start(uint32_t i);  // MATMUL i starts now on its unit

 private:
  struct Unit {
    uint64_t free_at = 0;
    std::deque<std::pair<uint64_t, uint32_t>> pending;  // (completion cycle, instruction), in order
  };
  void Done();  // SC_METHOD on done_: completes what is due on every unit, re-arms for the next
  Wiring* w_;
  sc_core::sc_event done_;
  std::vector<Unit> units_;
};

// The vector unit: one ACTIVATE or VECTOR at a time, ceil(rows x Lw / V) cycles; the data effect is
// applied at completion.
class VectorUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(VectorUnit);
  VectorUnit(sc_core::sc_module_name name, Wiring* wiring);
  void Start(uint32_t i);  // instruction i starts now

 private:
  void Done();  // SC_METHOD on done_
  Wiring* w_;
  sc_core::sc_event done_;
  uint32_t current_ = 0;
};

}  // namespace tpusim::simulator::cycle
