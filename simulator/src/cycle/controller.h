// The controller (docs/timing.md rule 1): fetches instructions in program order, at most one per
// cycle, into the load, compute and store queues; holds SYNC until every queue has drained; ends the
// run at HALT. Kernel thread only.
#pragma once

#include <array>
#include <cstdint>
#include <systemc>

#include "job.h"
#include "wiring.h"

namespace tpusim::simulator::cycle {

class Controller : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Controller);
  Controller(sc_core::sc_module_name name, Wiring* wiring);

  // Forgets the previous launch; the next Kick starts dispatching instruction 0 at cycle 0.
  void Reset();
  void Kick() { wake_.notify(sc_core::SC_ZERO_TIME); }
  // An instruction of queue q completed at cycle `end`: its queue entry frees.
  void Retire(int q, uint64_t end);
  // The next instruction to dispatch (for deadlock reports).
  size_t pc() const { return pc_; }

 private:
  void Dispatch();  // SC_METHOD on wake_

  Wiring* w_;
  sc_core::sc_event wake_;
  size_t pc_ = 0;
  uint64_t last_dispatch_ = kNever;
  uint64_t outstanding_ = 0;  // dispatched, not completed (all queues)
  std::array<uint64_t, kNumQueues> occupancy_{};
  uint64_t max_end_ = 0;      // latest completion so far
  uint64_t retired_ = 0;
  std::array<uint64_t, kTokenChannels> waits_dispatched_{};  // WAIT tickets handed out, per channel
};

}  // namespace tpusim::simulator::cycle
