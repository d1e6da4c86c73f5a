// DramChannel, DmaEngine and WeightPath (memory_units.h).
#include "memory_units.h"

#include <algorithm>
#include <variant>

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
    if (who_ == DramChannel::kWeight) {
      w_->weights->Arrive(std::get<isa::WeightsArgs>(job->code[i].args).mxu);
    }
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
  units_.assign(job.state.mxu.size(), Unit{});
  uint32_t tile = 0;
  bool any = false;
  for (size_t m = 0; m < units_.size(); ++m) {
    const size_t at_launch = job.state.mxu[m].weight_fifo.size();
    for (size_t n = 0; n < at_launch; ++n) units_[m].fifo.push_back(tile++);
    units_[m].held = units_[m].fifo.size();
    any |= !units_[m].fifo.empty();
  }
  if (any) wake_.notify(sc_core::SC_ZERO_TIME);
}

bool WeightPath::HasSpace(size_t unit) const {
  return units_[unit].held < w_->job->params.fifo_depth;
}

void WeightPath::Arrive(size_t unit) {
  Job* job = w_->job;
  units_[unit].fifo.push_back(static_cast<uint32_t>(job->tile_arrival.size()));
  job->tile_arrival.push_back(job->Now());
  wake_.notify(sc_core::SC_ZERO_TIME);
}

uint32_t WeightPath::Pop(size_t unit) {
  Unit& u = units_[unit];
  const uint32_t tile = u.shadow_tile;
  u.shadow_full = false;
  u.shadow_tile = kNoTile;
  --u.held;
  w_->queues[kLoadQueue]->Kick();  // a LOAD_WEIGHTS may be waiting for space
  wake_.notify(sc_core::SC_ZERO_TIME);
  return tile;
}

void WeightPath::Shift() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  const uint64_t now = job->Now();
  const uint64_t shift = job->mxu->WeightShiftCycles();  // OS: 0, the FIFO head is poppable
  bool filled = false;
  uint64_t next = kNever;  // the earliest shift still running after this cycle
  for (Unit& u : units_) {
    if (u.shifting && now >= u.shift_done) {
      u.shifting = false;
      u.shadow_full = true;
      u.shadow_tile = u.shifting_tile;
      filled = true;
    }
    if (!u.shifting && !u.shadow_full && !u.fifo.empty()) {
      u.shifting = true;
      u.shifting_tile = u.fifo.front();
      u.fifo.pop_front();
      u.shift_done = now + shift;
    }
    if (u.shifting) next = std::min(next, u.shift_done);
  }
  // One event serves every unit: it keeps only its earliest notification, so it is re-armed here
  // for the earliest shift still running (a zero-cycle shift finishes in the next delta cycle).
  if (next != kNever) wake_.notify(Cycles(next - now));
  if (filled) w_->queues[kComputeQueue]->Kick();  // a MATMUL may be waiting for these weights
}

}  // namespace tpusim::simulator::cycle
