// One in-order instruction queue (docs/timing.md rules 2, 5, 6, 7): the load, compute or store
// queue. It starts its head instruction on the unit that executes it once the queue-order rules and
// the unit's own conditions allow, and runs SIGNAL and WAIT itself: a SIGNAL releases the queue at
// its start and completes (adds its token) once every earlier instruction of the queue has
// completed. Kernel thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <systemc>

#include "job.h"
#include "wiring.h"

namespace tpusim::simulator::cycle {

class InstructionQueue : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(InstructionQueue);
  InstructionQueue(sc_core::sc_module_name name, int which, Wiring* wiring);

  void Reset();
  void Kick() { wake_.notify(sc_core::SC_ZERO_TIME); }
  // The controller dispatched instruction i to this queue now. ticket: for a WAIT, its number among
  // the WAITs of its channel in program order (1 = first).
  void Push(uint32_t i, uint64_t ticket);
  // A unit completed instruction i now; pending SIGNALs after i in program order count it. A MATMUL released the queue at its start + 1 on a device
  // with several matrix units (handed to its unit, which feeds until s +
  // job.mxu->ReleaseCycles(B), Mxu::FreeAt), at s + ReleaseCycles(B) on a one-unit device; a DMA
  // when its transfer left the DRAM channel (Release); ACTIVATE and VECTOR release it at
  // completion.
  void Complete(uint32_t i);
  // The DMA started last by this queue has left the DRAM channel now: the queue is released.
  void Release();
  // Why the head cannot start, for a deadlock report ("" when the queue is empty).
  std::string Blocked() const;

 private:
  struct Entry {
    uint32_t index;
    uint64_t ticket;
  };
  // A SIGNAL that started (and released the queue) while earlier instructions of the queue were in
  // flight; it completes when `left` of them (those started before it, not completed) reach 0.
  struct PendingSignal {
    uint32_t index;
    uint64_t left;
  };
  enum class Wait { kNone, kTime, kToken, kFifoSpace, kWeights, kDrain };

  void Issue();  // SC_METHOD on wake_
  // Starts the head at `now` if it can (true), else records why not in wait_.
  bool TryStart(const Entry& e, uint64_t now);
  void Finish(uint32_t i, uint64_t now);  // completes a WAIT as it passes
  // Completes SIGNAL i now: its data effect, its token, its queue entry; kicks every queue.
  bool CompleteSignal(uint32_t i, uint64_t now);
  // Instruction i (LOAD_WEIGHTS or MATMUL) names a matrix unit the device does not have: the
  // Executor reports it and the run stops. Returns false.
  bool FailOnUnit(uint32_t i);
  // " of mxu <unit>" when the device has several matrix units, else "".
  std::string OfUnit(uint64_t unit) const;
  // False (and the run stops) when instruction i would take more than kMaxInstructionCycles.
  bool WithinHorizon(uint32_t i, uint64_t cycles);

  const int which_;
  Wiring* w_;
  sc_core::sc_event wake_;
  std::deque<Entry> waiting_;  // dispatched, not started
  uint64_t in_flight_ = 0;     // started, not completed (SIGNALs not counted)
  std::deque<PendingSignal> pending_;  // started SIGNALs not completed, in program order
  uint64_t release_at_ = 0;    // the next instruction may start from this cycle (kNever: not yet known)
  Wait wait_ = Wait::kNone;
};

}  // namespace tpusim::simulator::cycle
