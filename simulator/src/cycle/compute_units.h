// The compute side of the cycle engine: the matrix unit (docs/timing.md rule 5) and the vector unit
// (rule 6). Kernel thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <systemc>
#include <utility>

#include "job.h"
#include "wiring.h"

namespace tpusim::simulator::cycle {

// The MXU: a MATMUL's results land in the accumulators at s + job.mxu->MatmulCycles(B) (WS:
// s + B + R + C - 2, and several MATMULs may be in the array at once; OS: after its passes and the
// last pass's drain, see mxu_timing_os.cc). The data effect (the weight pop
// and every accumulator row, computed by the functional Executor with the same numerics) is applied
// at the start: later MATMULs pop later tiles, and every reader of the accumulators waits for the
// completion.
class Mxu : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Mxu);
  Mxu(sc_core::sc_module_name name, Wiring* wiring);
  void Reset() { pending_.clear(); }
  void Start(uint32_t i);  // MATMUL i starts now

 private:
  void Done();  // SC_METHOD on done_
  Wiring* w_;
  sc_core::sc_event done_;
  std::deque<std::pair<uint64_t, uint32_t>> pending_;  // (completion cycle, instruction), in order
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
