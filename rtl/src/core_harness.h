// The C++ harness around one Verilated core model (class M, e.g. Vtpu_core_tiny): it clocks the
// core, serves its instruction port from the encoded program and its DMA port from DeviceState::dram
// with the cycle engine's DRAM channel (simulator::DramChannelModel, docs/timing.md rule 3), records
// when each instruction was dispatched, started and completed, and dumps a VCD window on request.
// The DMA port's members (SetInputs, TakeOutputs, ServeBeat, ReadElement) are in core_harness_dma.h.
// The port protocol is tpu_core.sv's header comment. Internal to rtl/src; one instantiation per model
// (core_models.cc).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core_models.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/dram_timing.h"
#include "verilated.h"
#include "verilated_bits.h"
#include "verilated_vcd_c.h"

namespace tpusim::rtl {

template <typename M>
class CoreHarness final : public CoreRunner {
 public:
  // `model_arch`: the ArchConfig the model was Verilated from (its arch_pkg).
  explicit CoreHarness(const isa::ArchConfig& model_arch)
      : C(model_arch.array_cols()), LW(isa::UbLanes(model_arch)), BANKS(model_arch.ub_banks()) {}
  absl::StatusOr<CoreResult> Run(const CoreJob& job) override;

 private:
  // One DMA transfer in flight: beats during [complete - beats, complete); it releases its queue at
  // `release` (timing.md rule 3). The transfers of one engine complete in request order, and their
  // beat windows are disjoint and in that order: transfer k + 1 requests the channel at
  // release_k = t_c,k + X'_k at the earliest, so complete_k+1 - beats_k+1 >= t_c,k + X'_k +
  // X'_k+1 + Lat - beats_k+1 >= complete_k (beats <= X'). A zero-row transfer (X' = 0, no beats)
  // may complete in the same cycle as the one before it, never before.
  struct Transfer {
    uint32_t index = 0;
    uint64_t complete = 0;
    uint64_t release = 0;
    uint64_t beats = 0;
    uint64_t rows = 0, cols = 0, addr = 0, row_stride = 0, col_stride = 0, dtype = 0;
  };
  enum { kLoad = 0, kWeight = 1, kStore = 2 };

  absl::Status Preload();
  absl::Status ReadBack();
  void Edge();
  void SetInputs(uint64_t t);
  absl::Status TakeOutputs(uint64_t t);
  absl::Status ServeBeat(int e, uint64_t t, bool after_eval);
  void Record(uint64_t t);
  absl::Status ReadElement(const Transfer& x, uint64_t r, uint64_t l, uint32_t& out) const;
  void Dump(uint64_t time);

  const uint64_t C, LW, BANKS;  // array columns, UB lanes, rows per DMA beat
  const CoreJob* job_ = nullptr;
  simulator::DeviceState* state_ = nullptr;
  std::unique_ptr<VerilatedContext> context_;
  std::unique_ptr<M> m_;
  std::unique_ptr<VerilatedVcdC> vcd_;
  std::vector<isa::Word> words_;
  std::optional<simulator::DramChannelModel> channel_;
  std::deque<Transfer> xfer_[3];  // per engine, in request order
  CoreResult result_;
  std::deque<uint32_t> waiting_[3];  // dispatched, not yet started, per queue (mirrors tpu_ctrl)
  std::deque<uint32_t> signals_[3];  // SIGNALs passed, not completed, per queue, program order
  uint64_t last_dispatch_ = kNever;
  uint64_t completed_below_end_ = 0;  // instruction windows: completions of instructions < end
  bool in_window_ = false;
  std::vector<uint8_t> bucket_;  // the core's `bucket` output, per cycle
};

inline int QueueOf(const isa::Instruction& inst) {
  if (const auto* a = std::get_if<isa::TokenArgs>(&inst.args)) return static_cast<int>(a->queue);
  switch (isa::QueueOf(inst.opcode)) {
    case isa::Queue::Load: return 0;
    case isa::Queue::Store: return 2;
    default: return 1;
  }
}

template <typename M>
void CoreHarness<M>::Dump(uint64_t time) {
  if (vcd_ && in_window_) vcd_->dump(time);
}

template <typename M>
void CoreHarness<M>::Edge() {
  m_->clk = 1;
  m_->eval();
}

template <typename M>
absl::Status CoreHarness<M>::Preload() {
  // Reset, then load the UB and accumulator rows that are not zero (the model starts at zero).
  m_->rst_n = 0;
  m_->run = 0;
  for (int i = 0; i < 2; ++i) {
    m_->clk = 0;
    m_->eval();
    Edge();
  }
  m_->rst_n = 1;
  const auto load = [&](bool acc, uint64_t rows, uint64_t width, const uint32_t* data) {
    for (uint64_t r = 0; r < rows; ++r) {
      const uint32_t* row = data + r * width;
      if (std::all_of(row, row + width, [](uint32_t w) { return w == 0; })) continue;
      m_->clk = 0;
      m_->dbg_we = 1;
      m_->dbg_sel = acc;
      m_->dbg_row = static_cast<uint32_t>(r);
      for (uint64_t l = 0; l < LW; ++l) SetBits(m_->dbg_wdata, l * 32, 32, l < width ? row[l] : 0);
      m_->eval();
      Edge();
    }
    m_->clk = 0;
    m_->dbg_we = 0;
    m_->eval();
  };
  load(false, state_->ub_rows, state_->lanes, state_->ub.data());
  load(true, state_->arch.accumulator_entries(), C, state_->acc.data());
  return absl::OkStatus();
}

// Reads back the rows the program can have written (LOAD, ACTIVATE and VECTOR destinations in the UB,
// MATMUL destinations in the accumulators, up to HALT); every other row still holds what Preload
// put there, which the state already has.
template <typename M>
absl::Status CoreHarness<M>::ReadBack() {
  std::vector<bool> ub_written(state_->ub_rows, false);
  std::vector<bool> acc_written(state_->arch.accumulator_entries(), false);
  const auto mark = [](std::vector<bool>& rows, uint64_t first, uint64_t n) {
    for (uint64_t r = first; r < first + n && r < rows.size(); ++r) rows[r] = true;
  };
  for (const isa::Instruction& inst : *job_->code) {
    if (inst.opcode == isa::Opcode::HALT) break;
    if (inst.opcode == isa::Opcode::LOAD) {
      const auto& a = std::get<isa::DmaArgs>(inst.args);
      mark(ub_written, a.ub_row, a.rows);
    } else if (const auto* a = std::get_if<isa::ActivateArgs>(&inst.args)) {
      mark(ub_written, a->ub_row, a->rows);
    } else if (const auto* a = std::get_if<isa::VectorArgs>(&inst.args)) {
      const bool reduce = isa::VectorOpFromCode(a->op) &&
                          isa::VectorOpArity(*isa::VectorOpFromCode(a->op)) == isa::VectorArity::Reduce;
      mark(ub_written, a->dst_row, reduce ? 1 : a->rows);
    } else if (const auto* a = std::get_if<isa::MatmulArgs>(&inst.args)) {
      mark(acc_written, a->acc_row, a->rows);
    }
  }
  const auto read = [&](bool acc, const std::vector<bool>& rows, uint64_t width, uint32_t* data) {
    m_->dbg_we = 0;
    m_->dbg_sel = acc;
    for (uint64_t r = 0; r < rows.size(); ++r) {
      if (!rows[r]) continue;
      m_->dbg_row = static_cast<uint32_t>(r);
      m_->eval();
      for (uint64_t l = 0; l < width; ++l) {
        data[r * width + l] = static_cast<uint32_t>(GetBits(m_->dbg_rdata, l * 32, 32));
      }
    }
  };
  m_->clk = 0;
  read(false, ub_written, state_->lanes, state_->ub.data());
  read(true, acc_written, C, state_->acc.data());
  return absl::OkStatus();
}

template <typename M>
void CoreHarness<M>::Record(uint64_t t) {
  const auto& code = *job_->code;
  auto& times = result_.times;
  const simulator::VcdWindow& win = job_->vcd_window;
  const bool by_inst = win.unit == simulator::VcdWindow::Unit::kInstructions;
  const auto completed = [&](uint32_t i, uint64_t end) {
    times[i].end = end;
    if (by_inst && i < win.end) ++completed_below_end_;
  };
  // Queue order: zero-time passes, then at most one start (tpu_ctrl), then this cycle's dispatch.
  // A WAIT completes as it passes; a SIGNAL when ev_sig_done counts it (rule 7: at its pass, or once
  // every earlier instruction of its queue has completed; in program order per queue).
  for (int q = 0; q < 3; ++q) {
    const uint64_t passed = GetBits(m_->ev_passed, q * 4, 4);
    for (uint64_t k = 0; k < passed && !waiting_[q].empty(); ++k) {
      const uint32_t i = waiting_[q].front();
      waiting_[q].pop_front();
      times[i].start = t;
      if (code[i].opcode == isa::Opcode::SIGNAL) {
        signals_[q].push_back(i);
      } else {
        completed(i, t);
      }
    }
    const uint64_t signalled = GetBits(m_->ev_sig_done, q * 4, 4);
    for (uint64_t k = 0; k < signalled && !signals_[q].empty(); ++k) {
      completed(signals_[q].front(), t);
      signals_[q].pop_front();
    }
  }
  for (int u = 0; u < 5; ++u) {
    if (GetBits(m_->ev_start, u, 1)) {
      const auto i = static_cast<uint32_t>(GetBits(m_->ev_start_idx, u * 32, 32));
      times[i].start = t;
      const int q = QueueOf(code[i]);
      if (!waiting_[q].empty() && waiting_[q].front() == i) waiting_[q].pop_front();
    }
    if (GetBits(m_->ev_done, u, 1)) {
      completed(static_cast<uint32_t>(GetBits(m_->ev_done_idx, u * 32, 32)), t);
    }
    if (u < 3 && GetBits(m_->ev_done2, u, 1)) {
      completed(static_cast<uint32_t>(GetBits(m_->ev_done2_idx, u * 32, 32)), t);
    }
  }
  if (m_->ev_dispatch) {
    const uint32_t i = m_->ev_dispatch_idx;
    if (by_inst && i == win.start && vcd_) in_window_ = true;
    times[i].dispatch = t;
    if (code[i].opcode == isa::Opcode::SYNC) {
      times[i].start = last_dispatch_ == kNever ? 0 : last_dispatch_ + 1;  // the controller slice
      completed(i, t + 1);
    } else if (code[i].opcode != isa::Opcode::HALT) {
      waiting_[QueueOf(code[i])].push_back(i);
    }
    last_dispatch_ = t;
  }
}

template <typename M>
absl::StatusOr<CoreResult> CoreHarness<M>::Run(const CoreJob& job) {
  job_ = &job;
  state_ = job.state;
  const auto& code = *job.code;
  words_.clear();
  for (size_t i = 0; i < code.size(); ++i) {
    absl::StatusOr<isa::Word> w = isa::Encode(code[i]);
    if (!w.ok()) return absl::InternalError(absl::StrCat("instruction ", i, ": ", w.status().message()));
    words_.push_back(*w);
  }
  {
    // Every VerilatedContext constructor writes Verilator's process-wide "last context" pointer
    // without a lock; launches on different devices may run at once.
    static std::mutex construction;
    std::lock_guard<std::mutex> lock(construction);
    context_ = std::make_unique<VerilatedContext>();
  }
  context_->traceEverOn(!job.vcd_path.empty());
  m_ = std::make_unique<M>(context_.get());
  channel_.emplace(simulator::DramTiming::FromArch(state_->arch));
  result_ = CoreResult{};
  bucket_.clear();
  for (auto& x : xfer_) x.clear();
  for (auto& s : signals_) s.clear();
  result_.times.assign(code.size(), CoreTimes{});
  const simulator::VcdWindow& win = job.vcd_window;
  const bool by_inst = win.unit == simulator::VcdWindow::Unit::kInstructions;
  if (!job.vcd_path.empty()) {
    vcd_ = std::make_unique<VerilatedVcdC>();
    m_->trace(vcd_.get(), 99);
    vcd_->open(job.vcd_path.c_str());
    if (!vcd_->isOpen()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot write the VCD file ", job.vcd_path));
    }
  }
  TPUSIM_RETURN_IF_ERROR(Preload());
  m_->int8 = state_->mode == isa::INT8_INT32;
  m_->run = 1;
  auto last_progress = std::chrono::steady_clock::now();
  uint64_t last_event = 0, t = 0;
  for (;; ++t) {
    if (!by_inst) in_window_ = vcd_ && t >= win.start && t < win.end;
    SetInputs(t);
    for (int e = 0; e < 3; ++e) TPUSIM_RETURN_IF_ERROR(ServeBeat(e, t, false));
    m_->clk = 0;
    m_->eval();
    TPUSIM_RETURN_IF_ERROR(TakeOutputs(t));
    TPUSIM_RETURN_IF_ERROR(ServeBeat(kStore, t, true));
    Record(t);
    bucket_.push_back(m_->bucket);
    for (int e = 0; e < 3; ++e) {
      while (!xfer_[e].empty() && xfer_[e].front().complete == t) xfer_[e].pop_front();
    }
    if (m_->ev_dispatch || m_->ev_start || m_->ev_done || m_->ev_passed) last_event = t;
    Dump(2 * t);
    Edge();
    Dump(2 * t + 1);
    if (by_inst && in_window_ && completed_below_end_ >= std::min<uint64_t>(win.end, code.size())) {
      in_window_ = false;
    }
    if (m_->error) return absl::InternalError(absl::StrCat("rtl core: MXU protocol error at cycle ", t));
    if (m_->halted) break;
    if (t - last_event > 100000000) {
      return absl::InternalError(absl::StrCat("rtl core: no progress since cycle ", last_event,
                                              " (the functional pre-run found no deadlock)"));
    }
    if (job.progress && (t & 0xFFFF) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_progress >= std::chrono::seconds(1)) {
        last_progress = now;
        uint64_t done = 0;
        for (const CoreTimes& ct : result_.times) done += ct.end != kNever;
        job.progress(t, done, code.size());
      }
    }
  }
  result_.cycles = m_->cycles;
  // Cycles from the last completion to HALT's dispatch are after the run: count [0, cycles).
  uint64_t* counters[7] = {&result_.buckets.active,     &result_.buckets.weight_load_stall,
                           &result_.buckets.weight_shift, &result_.buckets.input_stall,
                           &result_.buckets.non_matrix, &result_.buckets.sync_wait,
                           &result_.buckets.idle};
  for (uint64_t c = 0; c < result_.cycles && c < bucket_.size(); ++c) {
    if (bucket_[c] < 7) ++*counters[bucket_[c]];
  }
  m_->run = 0;
  TPUSIM_RETURN_IF_ERROR(ReadBack());
  if (vcd_) vcd_->close();
  m_->final();
  return std::move(result_);
}

}  // namespace tpusim::rtl

// The DMA port: transfer bookkeeping and beat serving (CoreHarness members, templates).
#include "core_harness_dma.h"
