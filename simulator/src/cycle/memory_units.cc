// DramChannel, DmaEngine and WeightPath (memory_units.h).
#include "memory_units.h"

#include <algorithm>

#include "instruction_queue.h"

namespace tpusim::simulator::cycle {

// ---- DramChannel ------------------------------------------------------------------------------

DramChannel::DramChannel(sc_core::sc_module_name name, Wiring* wiring)
    : sc_core::sc_module(name), w_(wiring) {}

void DramChannel::Reset() {
  channel_ = DramChannelModel(w_->job->params.dram);
  batch_cycle_ = kNever;
  batch_start_ = channel_;
  batch_.clear();
}

void DramChannel::Request(Requester who, uint64_t hold, DmaEngine* engine, uint64_t ticket) {
  const uint64_t now = w_->job->Now();
  if (hold == 0) {  // never holds the channel, so it never moves another request
    engine->Planned(ticket, channel_.Request(now, 0));
    return;
  }
  if (batch_cycle_ != now) {
    batch_cycle_ = now;
    batch_start_ = channel_;
    batch_.clear();
  }
  auto pos = std::find_if(batch_.begin(), batch_.end(),
                          [who](const Granted& g) { return g.who > who; });
  batch_.insert(pos, Granted{who, hold, engine, ticket, kNever});
  // Re-plan this cycle's requests in service order from the channel as it was before them. Each
  // holds the channel for at least one cycle, so a request moved back has neither released its
  // queue nor completed yet, and its engine can move both.
  DramChannelModel replan = batch_start_;
  for (Granted& g : batch_) {
    const DramChannelModel::Grant grant = replan.Request(now, g.hold);
    if (g.complete != grant.complete) {
      g.complete = grant.complete;
      g.engine->Planned(g.ticket, grant);
    }
  }
  channel_ = replan;
}

// ---- DmaEngine --------------------------------------------------------------------------------

DmaEngine::DmaEngine(sc_core::sc_module_name name, DramChannel::Requester who, int queue,
                     Wiring* wiring)
    : sc_core::sc_module(name), who_(who), queue_(queue), w_(wiring) {
  SC_METHOD(Released);
  sensitive << release_;
  dont_initialize();
  SC_METHOD(Done);
  sensitive << done_;
  dont_initialize();
}

void DmaEngine::Reset() {
  flight_.clear();
  next_ticket_ = 0;
}

void DmaEngine::Start(uint32_t i, uint64_t hold) {
  const uint64_t ticket = next_ticket_++;
  flight_.push_back({i, ticket, kNever});
  w_->dram->Request(who_, hold, this, ticket);
}

void DmaEngine::Planned(uint64_t ticket, const DramChannelModel::Grant& grant) {
  const uint64_t now = w_->job->Now();
  // Only the newest transfer can be (re)planned: it was requested now, and the queue starts no
  // other DMA before it releases the queue (at least one cycle later).
  InFlight& x = flight_.back();
  if (x.ticket != ticket) return;
  x.complete = grant.complete;
  release_.cancel();
  release_.notify(Cycles(grant.release - now));
  // Completions come in request order (one channel, one latency): the head is the next one.
  if (flight_.size() == 1) {
    done_.cancel();
    done_.notify(Cycles(x.complete - now));
  }
}

void DmaEngine::Released() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  w_->queues[queue_]->Release();
}

void DmaEngine::Done() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  const uint64_t now = job->Now();
  // A zero-row transfer started in the cycle its predecessor left the channel completes together
  // with it: complete every transfer due now, oldest first.
  while (!flight_.empty() && flight_.front().complete <= now) {
    const uint32_t i = flight_.front().index;
    flight_.pop_front();
    if (!job->Apply(i)) return;
    if (who_ == DramChannel::kWeight) w_->weights->Arrive();
    w_->queues[queue_]->Complete(i);
  }
  if (!flight_.empty()) done_.notify(Cycles(flight_.front().complete - now));
}

// ---- WeightPath -------------------------------------------------------------------------------

WeightPath::WeightPath(sc_core::sc_module_name name, Wiring* wiring)
    : sc_core::sc_module(name), w_(wiring) {
  SC_METHOD(Shift);
  sensitive << wake_;
  dont_initialize();
}

void WeightPath::Reset() {
  const Job& job = *w_->job;
  fifo_.clear();
  for (uint32_t tile = 0; tile < job.tile_arrival.size(); ++tile) fifo_.push_back(tile);
  held_ = fifo_.size();
  shifting_ = false;
  shift_done_ = 0;
  shifting_tile_ = kNoTile;
  shadow_full_ = false;
  shadow_tile_ = kNoTile;
  if (!fifo_.empty()) wake_.notify(sc_core::SC_ZERO_TIME);
}

bool WeightPath::HasSpace() const { return held_ < w_->job->params.fifo_depth; }

void WeightPath::Arrive() {
  Job* job = w_->job;
  fifo_.push_back(static_cast<uint32_t>(job->tile_arrival.size()));
  job->tile_arrival.push_back(job->Now());
  wake_.notify(sc_core::SC_ZERO_TIME);
}

uint32_t WeightPath::Pop() {
  const uint32_t tile = shadow_tile_;
  shadow_full_ = false;
  shadow_tile_ = kNoTile;
  --held_;
  w_->queues[kLoadQueue]->Kick();  // a LOAD_WEIGHTS may be waiting for space
  wake_.notify(sc_core::SC_ZERO_TIME);
  return tile;
}

void WeightPath::Shift() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  const uint64_t now = job->Now();
  if (shifting_) {
    if (now < shift_done_) {
      wake_.notify(Cycles(shift_done_ - now));
      return;
    }
    shifting_ = false;
    shadow_full_ = true;
    shadow_tile_ = shifting_tile_;
    w_->queues[kComputeQueue]->Kick();  // a MATMUL may be waiting for these weights
  }
  if (!shadow_full_ && !fifo_.empty()) {
    shifting_ = true;
    shifting_tile_ = fifo_.front();
    fifo_.pop_front();
    const uint64_t shift = job->mxu->WeightShiftCycles();  // OS: 0, the FIFO head is poppable
    shift_done_ = now + shift;
    wake_.notify(Cycles(shift));
  }
}

}  // namespace tpusim::simulator::cycle
