// Controller: dispatch, SYNC and HALT (controller.h, docs/timing.md rule 1).
#include "controller.h"

#include <algorithm>
#include <variant>

#include "absl/strings/str_cat.h"
#include "instruction_queue.h"
#include "tpusim/isa/isa.h"

namespace tpusim::simulator::cycle {

int QueueIndexOf(const isa::Instruction& inst) {
  const std::optional<isa::Opcode> op = isa::OpcodeFromCode(static_cast<uint8_t>(inst.opcode));
  if (!op || inst.args.index() != static_cast<size_t>(isa::FormatOf(*op))) return -1;
  isa::Queue queue = isa::QueueOf(*op);
  if (*op == isa::Opcode::SIGNAL || *op == isa::Opcode::WAIT) {
    const auto& a = std::get<isa::TokenArgs>(inst.args);
    const std::optional<isa::Queue> named = isa::QueueFromCode(a.queue);
    if (!named || a.channel >= kTokenChannels) return -1;
    queue = *named;
  }
  switch (queue) {
    case isa::Queue::Load: return kLoadQueue;
    case isa::Queue::Compute: return kComputeQueue;
    case isa::Queue::Store: return kStoreQueue;
    case isa::Queue::Control: return -1;
  }
  return -1;
}

Controller::Controller(sc_core::sc_module_name name, Wiring* wiring)
    : sc_core::sc_module(name), w_(wiring) {
  SC_METHOD(Dispatch);
  sensitive << wake_;
  dont_initialize();
}

void Controller::Reset() {
  pc_ = 0;
  last_dispatch_ = kNever;
  outstanding_ = 0;
  occupancy_.fill(0);
  max_end_ = 0;
  retired_ = 0;
  waits_dispatched_.fill(0);
}

void Controller::Retire(int q, uint64_t end) {
  --occupancy_[q];
  --outstanding_;
  max_end_ = std::max(max_end_, end);
  ++retired_;
  Job* job = w_->job;
  job->progress_cycle.store(end, std::memory_order_relaxed);
  job->progress_done.store(retired_, std::memory_order_relaxed);
  Kick();
}

void Controller::Dispatch() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  const uint64_t now = job->Now();
  const auto& code = job->code;
  while (true) {
    if (pc_ >= code.size()) {
      if (outstanding_ == 0) {
        job->Fail(absl::FailedPreconditionError(absl::StrCat(
            "program ran off the end of its ", code.size(), " instructions without a HALT")));
      }
      return;  // otherwise Retire wakes us, and the last completion reports it
    }
    // d_i >= d_{i-1} + 1.
    const uint64_t earliest = last_dispatch_ == kNever ? 0 : last_dispatch_ + 1;
    if (now < earliest) {
      wake_.notify(Cycles(earliest - now));
      return;
    }
    const auto i = static_cast<uint32_t>(pc_);
    const isa::Instruction& inst = code[i];
    InstTimes& t = job->times[i];
    if (inst.opcode == isa::Opcode::SYNC || inst.opcode == isa::Opcode::HALT) {
      if (t.ready == kNever) t.ready = earliest;
      if (outstanding_ > 0) return;  // every queue must drain first; Retire wakes us
      t.dispatch = now;
      if (!job->Apply(i)) return;
      if (inst.opcode == isa::Opcode::HALT) {
        job->cycles = max_end_;  // HALT itself adds 0
        job->halted = true;
        return;
      }
      // SYNC takes the cycle it is dispatched in.
      t.start = now;
      t.end = now + 1;
      max_end_ = std::max(max_end_, t.end);
      ++retired_;
      last_dispatch_ = now;
      ++pc_;
      continue;
    }
    const int q = QueueIndexOf(inst);
    if (q < 0) {
      // Malformed: the Executor names the problem with the functional engine's message.
      if (job->Apply(i)) {
        job->Fail(absl::InternalError(absl::StrCat("instruction ", i, " (",
                                                   std::string(isa::Mnemonic(inst.opcode)),
                                                   "): has no queue")));
      }
      return;
    }
    if (occupancy_[q] >= job->params.queue_depth) return;  // Retire wakes us
    uint64_t ticket = 0;
    if (inst.opcode == isa::Opcode::WAIT) {
      ticket = ++waits_dispatched_[std::get<isa::TokenArgs>(inst.args).channel];
    }
    t.dispatch = now;
    ++occupancy_[q];
    ++outstanding_;
    last_dispatch_ = now;
    ++pc_;
    w_->queues[q]->Push(i, ticket);
  }
}

}  // namespace tpusim::simulator::cycle
