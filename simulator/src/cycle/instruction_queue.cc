// InstructionQueue: in-order issue, MATMUL pipelining, SIGNAL and WAIT (instruction_queue.h).
#include "instruction_queue.h"

#include <algorithm>
#include <variant>

#include "absl/strings/str_cat.h"
#include "compute_units.h"
#include "controller.h"
#include "memory_units.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/dram_timing.h"

namespace tpusim::simulator::cycle {
namespace {

constexpr const char* kQueueNames[kNumQueues] = {"load", "compute", "store"};

}  // namespace

InstructionQueue::InstructionQueue(sc_core::sc_module_name name, int which, Wiring* wiring)
    : sc_core::sc_module(name), which_(which), w_(wiring) {
  SC_METHOD(Issue);
  sensitive << wake_;
  dont_initialize();
}

void InstructionQueue::Reset() {
  waiting_.clear();
  in_flight_ = 0;
  pending_.clear();
  release_at_ = 0;
  wait_ = Wait::kNone;
}

void InstructionQueue::Push(uint32_t i, uint64_t ticket) {
  waiting_.push_back({i, ticket});
  Kick();
}

void InstructionQueue::Complete(uint32_t i) {
  Job* job = w_->job;
  const uint64_t now = job->Now();
  job->times[i].end = now;
  --in_flight_;
  const isa::Opcode op = job->code[i].opcode;
  if (op == isa::Opcode::ACTIVATE || op == isa::Opcode::VECTOR) release_at_ = now;
  w_->controller->Retire(which_, now);
  // Rule 7: a pending SIGNAL counts the instructions before it that were in flight at its start.
  // With several matrix units MATMULs complete out of program order, so only SIGNALs after i count
  // this one. An earlier SIGNAL waits for a subset of what a later one waits for: the SIGNALs reach
  // 0 in program order.
  for (PendingSignal& p : pending_) {
    if (p.index > i) --p.left;
  }
  while (!pending_.empty() && pending_.front().left == 0 && job->running()) {
    const uint32_t s = pending_.front().index;
    pending_.pop_front();
    if (!CompleteSignal(s, now)) return;
  }
  Kick();
}

void InstructionQueue::Release() {
  release_at_ = w_->job->Now();
  Kick();
}

void InstructionQueue::Finish(uint32_t i, uint64_t now) {
  InstTimes& t = w_->job->times[i];
  t.end = now;
  release_at_ = now;
  w_->controller->Retire(which_, now);
}

bool InstructionQueue::CompleteSignal(uint32_t i, uint64_t now) {
  Job* job = w_->job;
  if (!job->Apply(i)) return false;
  job->times[i].end = now;
  ++job->tokens_signalled[std::get<isa::TokenArgs>(job->code[i].args).channel];
  w_->controller->Retire(which_, now);
  for (InstructionQueue* q : w_->queues) q->Kick();
  return true;
}

void InstructionQueue::Issue() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  const uint64_t now = job->Now();
  while (!waiting_.empty() && job->running()) {
    const Entry e = waiting_.front();
    if (!TryStart(e, now)) return;
    waiting_.pop_front();
  }
  wait_ = Wait::kNone;
}

bool InstructionQueue::TryStart(const Entry& e, uint64_t now) {
  Job* job = w_->job;
  const isa::Instruction& inst = job->code[e.index];
  InstTimes& t = job->times[e.index];
  // Rule 2: not before d + 1, not before the previous instruction released the queue.
  if (release_at_ == kNever) {
    wait_ = Wait::kDrain;  // the previous instruction's release (DMA) or completion will set it
    return false;
  }
  uint64_t earliest = std::max(t.dispatch + 1, release_at_);
  if (inst.opcode == isa::Opcode::LOAD_WEIGHTS || inst.opcode == isa::Opcode::MATMUL) {
    const uint64_t unit = inst.opcode == isa::Opcode::MATMUL
                              ? std::get<isa::MatmulArgs>(inst.args).mxu
                              : std::get<isa::WeightsArgs>(inst.args).mxu;
    if (unit >= w_->weights->units()) return FailOnUnit(e.index);
    // Rule 5: a MATMUL also waits until its unit has fed the previous MATMUL's last row.
    if (inst.opcode == isa::Opcode::MATMUL) earliest = std::max(earliest, w_->mxu->FreeAt(unit));
  }
  if (now < earliest) {
    wait_ = Wait::kTime;
    wake_.notify(Cycles(earliest - now));
    return false;
  }
  if (t.ready == kNever) t.ready = earliest;
  switch (inst.opcode) {
    case isa::Opcode::WAIT: {
      // Rule 7: the k-th WAIT of a channel (program order) passes once k tokens were signalled.
      const auto& a = std::get<isa::TokenArgs>(inst.args);
      if (job->tokens_signalled[a.channel] < e.ticket) {
        wait_ = Wait::kToken;
        return false;  // a SIGNAL on any queue kicks every queue
      }
      t.start = now;
      if (!job->Apply(e.index)) return false;
      Finish(e.index, now);
      return true;
    }
    case isa::Opcode::SIGNAL: {
      // Rule 7: it releases the queue at its start and keeps its entry until it completes, at the
      // first cycle at which every earlier instruction of the queue has completed (the in-flight
      // ones all started before it: the queue starts in program order).
      t.start = now;
      release_at_ = now;
      if (in_flight_ > 0) {
        pending_.push_back({e.index, in_flight_});
        return true;
      }
      return CompleteSignal(e.index, now);
    }
    case isa::Opcode::LOAD:
    case isa::Opcode::STORE:
    case isa::Opcode::LOAD_WEIGHTS: {
      DmaEngine* engine = inst.opcode == isa::Opcode::LOAD    ? w_->load_dma
                          : inst.opcode == isa::Opcode::STORE ? w_->store_dma
                                                              : w_->weight_dma;
      if (inst.opcode == isa::Opcode::LOAD_WEIGHTS) {
        // Rule 4: only while its unit holds fewer than F tiles loaded and not yet popped.
        const uint64_t unit = std::get<isa::WeightsArgs>(inst.args).mxu;
        if (!w_->weights->HasSpace(unit)) {
          wait_ = Wait::kFifoSpace;
          return false;  // the MATMUL that pops kicks the load queue
        }
        w_->weights->Reserve(unit);
      }
      // Rule 3: the channel is held X'(S, rows) cycles (bandwidth or the UB port, whichever binds);
      // the engine releases the queue when the transfer has left the channel.
      const uint64_t hold = job->params.dram.HoldCycles(DmaShapeOf(inst));
      if (!WithinHorizon(e.index, hold)) return false;
      t.start = now;
      ++in_flight_;
      release_at_ = kNever;
      engine->Start(e.index, hold);
      return true;
    }
    case isa::Opcode::MATMUL: {
      // Rule 5: a pop waits for its unit's full shadow weights (OS: for its tile in the unit's
      // FIFO). Rule 2: with several units the MATMUL is handed to its unit's feeder at s and
      // releases the queue at s + 1, so a MATMUL for another unit may start the next cycle (a
      // 0-row MATMUL feeds nothing and releases it at s); with one unit it releases the queue when
      // it has fed its last row (WS: s + B), as the RTL core does.
      const auto& a = std::get<isa::MatmulArgs>(inst.args);
      if (a.pop_weights && !w_->weights->ShadowFull(a.mxu)) {
        wait_ = Wait::kWeights;
        return false;  // the weight path kicks the compute queue when a shadow fills
      }
      t.start = now;
      ++in_flight_;
      const uint64_t fed = job->mxu->ReleaseCycles(a.rows);
      release_at_ = w_->weights->units() > 1 ? now + std::min<uint64_t>(1, fed)
                                             : Saturate(static_cast<unsigned __int128>(now) + fed);
      w_->mxu->Start(e.index);
      return true;
    }
    case isa::Opcode::ACTIVATE:
    case isa::Opcode::VECTOR: {
      // Rule 6: after every earlier MATMUL and the previous compute instruction completed.
      if (in_flight_ > 0) {
        wait_ = Wait::kDrain;
        return false;
      }
      const uint64_t rows = inst.opcode == isa::Opcode::ACTIVATE
                                ? std::get<isa::ActivateArgs>(inst.args).rows
                                : std::get<isa::VectorArgs>(inst.args).rows;
      if (!WithinHorizon(e.index, job->params.VectorCycles(rows))) return false;
      t.start = now;
      ++in_flight_;
      release_at_ = kNever;
      w_->vector->Start(e.index);
      return true;
    }
    default:
      // The controller only queues the opcodes above.
      job->Fail(absl::InternalError(absl::StrCat("instruction ", e.index, " (",
                                                 std::string(isa::Mnemonic(inst.opcode)),
                                                 ") reached the ", kQueueNames[which_], " queue")));
      return false;
  }
}

bool InstructionQueue::FailOnUnit(uint32_t i) {
  Job* job = w_->job;
  if (job->Apply(i)) {  // the Executor checks the unit against the same count: never reached
    job->Fail(absl::InternalError(absl::StrCat("instruction ", i, " names a matrix unit the cycle "
                                               "engine does not have but the Executor accepted it")));
  }
  return false;
}

bool InstructionQueue::WithinHorizon(uint32_t i, uint64_t cycles) {
  if (cycles <= kMaxInstructionCycles) return true;
  // Almost surely out of range: let the Executor say so in its words; else refuse the duration.
  Job* job = w_->job;
  if (job->Apply(i)) {
    job->Fail(absl::OutOfRangeError(absl::StrCat(
        "instruction ", i, " (", std::string(isa::Mnemonic(job->code[i].opcode)), "): takes ",
        cycles, " cycles, more than the ", kMaxInstructionCycles,
        " one instruction may take in the cycle engine")));
  }
  return false;
}

std::string InstructionQueue::OfUnit(uint64_t unit) const {
  return w_->weights->units() > 1 ? absl::StrCat(" of mxu ", unit) : std::string();
}

std::string InstructionQueue::Blocked() const {
  if (waiting_.empty()) return "";
  const Job* job = w_->job;
  const uint32_t i = waiting_.front().index;
  const isa::Instruction& inst = job->code[i];
  std::string what = absl::StrCat("instruction ", i, " (", std::string(isa::Mnemonic(inst.opcode)),
                                  ") on the ", kQueueNames[which_], " queue ");
  switch (wait_) {
    case Wait::kToken:
      return absl::StrCat(what, "waits for channel ", std::get<isa::TokenArgs>(inst.args).channel);
    case Wait::kFifoSpace: {
      const uint64_t unit = std::get<isa::WeightsArgs>(inst.args).mxu;
      return absl::StrCat(what, "waits for space in the weight FIFO", OfUnit(unit), " (all ",
                          job->params.fifo_depth, " tiles are loaded and not popped)");
    }
    case Wait::kWeights: {
      const uint64_t unit = std::get<isa::MatmulArgs>(inst.args).mxu;
      return absl::StrCat(what, "waits for weights (no tile is on its way to ",
                          job->mxu->WeightSource(), OfUnit(unit), ")");
    }
    default:
      return absl::StrCat(what, "cannot start");
  }
}

}  // namespace tpusim::simulator::cycle
