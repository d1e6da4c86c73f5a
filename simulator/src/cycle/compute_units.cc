// Mxu and VectorUnit (compute_units.h).
#include "compute_units.h"

#include <algorithm>
#include <variant>

#include "instruction_queue.h"
#include "memory_units.h"

namespace tpusim::simulator::cycle {

// ---- Mxu --------------------------------------------------------------------------------------

Mxu::Mxu(sc_core::sc_module_name name, Wiring* wiring) : sc_core::sc_module(name), w_(wiring) {
  SC_METHOD(Done);
  sensitive << done_;
  dont_initialize();
}

void Mxu::Reset() { units_.assign(w_->job->state.mxu.size(), Unit{}); }

void Mxu::Start(uint32_t i) {
  Job* job = w_->job;
  if (!job->Apply(i)) return;
  const auto& a = std::get<isa::MatmulArgs>(job->code[i].args);
  Unit& unit = units_[a.mxu];  // the Executor checked a.mxu
  if (a.pop_weights) job->popped_tile[i] = w_->weights->Pop(a.mxu);
  const uint64_t now = job->Now();
  const uint64_t duration = job->mxu->MatmulCycles(a.rows);
  unit.free_at = Saturate(static_cast<unsigned __int128>(now) + job->mxu->ReleaseCycles(a.rows));
  unit.pending.emplace_back(Saturate(static_cast<unsigned __int128>(now) + duration), i);
  // A unit completes its MATMULs in start order. Both dataflows keep them in that order by
  // themselves, except an OS MATMUL of 0 rows (no pass) behind one still draining: it completes
  // with that one. The event keeps only its earliest notification, so this never delays another
  // unit's completion.
  if (unit.pending.size() == 1) done_.notify(Cycles(duration));
}

void Mxu::Done() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  const uint64_t now = job->Now();
  uint64_t next = kNever;
  for (Unit& unit : units_) {
    while (!unit.pending.empty() && unit.pending.front().first <= now) {
      const uint32_t i = unit.pending.front().second;
      unit.pending.pop_front();
      w_->queues[kComputeQueue]->Complete(i);
    }
    if (!unit.pending.empty()) next = std::min(next, unit.pending.front().first);
  }
  if (next != kNever) done_.notify(Cycles(next - now));
}

// ---- VectorUnit -------------------------------------------------------------------------------

VectorUnit::VectorUnit(sc_core::sc_module_name name, Wiring* wiring)
    : sc_core::sc_module(name), w_(wiring) {
  SC_METHOD(Done);
  sensitive << done_;
  dont_initialize();
}

void VectorUnit::Start(uint32_t i) {
  Job* job = w_->job;
  current_ = i;
  const isa::Instruction& inst = job->code[i];
  const uint64_t rows = inst.opcode == isa::Opcode::ACTIVATE
                            ? std::get<isa::ActivateArgs>(inst.args).rows
                            : std::get<isa::VectorArgs>(inst.args).rows;
  done_.notify(Cycles(job->params.VectorCycles(rows)));
}

void VectorUnit::Done() {
  Job* job = w_->job;
  if (job == nullptr || !job->running()) return;
  if (!job->Apply(current_)) return;
  w_->queues[kComputeQueue]->Complete(current_);
}

}  // namespace tpusim::simulator::cycle
