// CoreHarness's DMA port (core_harness.h, which includes this file after the class): the DRAM
// transfers the core requests, timed by the cycle engine's DRAM channel (simulator::DramChannelModel,
// docs/timing.md rule 3), their done/release strobes and the beats that move their rows between
// DeviceState::dram and the core. The port protocol is tpu_core.sv's header comment.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core_harness.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/simulator/dram_timing.h"
#include "verilated_bits.h"

namespace tpusim::rtl {

template <typename M>
absl::Status CoreHarness<M>::ReadElement(const Transfer& x, uint64_t r, uint64_t l, uint32_t& out) const {
  const std::optional<isa::DType> dtype = isa::DTypeFromCode(x.dtype);
  const uint64_t bytes = dtype ? isa::DTypeBytes(*dtype) : 4;
  const uint64_t addr = job_->frame_base + x.addr + (r * x.row_stride + l * x.col_stride) * bytes;
  uint8_t b[4] = {0, 0, 0, 0};
  if (absl::Status s = state_->dram.Read(addr, b, bytes); !s.ok()) {
    return absl::InternalError(absl::StrCat("instruction ", x.index, ": DMA read the functional "
                                            "engine admitted failed: ", s.message()));
  }
  out = uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  return absl::OkStatus();
}

// Beats: the k-th of a transfer's `beats` comes in cycle complete - beats + k and moves rows
// [k x BANKS, min((k + 1) x BANKS, rows)). LOAD / LOAD_WEIGHTS beats are inputs (before eval);
// STORE beats read st_rd_data after eval and write DRAM.
template <typename M>
absl::Status CoreHarness<M>::ServeBeat(int e, uint64_t t, bool after_eval) {
  static const Transfer kNone{};
  const auto it = std::find_if(xfer_[e].begin(), xfer_[e].end(), [t](const Transfer& x) {
    return x.beats > 0 && t + x.beats >= x.complete && t < x.complete;
  });
  const bool in_beat = it != xfer_[e].end();
  const Transfer& x = in_beat ? *it : kNone;
  const uint64_t k = in_beat ? t + x.beats - x.complete : 0;
  const uint64_t first = k * BANKS;
  const uint64_t n = in_beat ? std::min<uint64_t>(BANKS, x.rows - first) : 0;
  if (e == kStore) {
    if (!after_eval) {
      m_->st_rd_first = static_cast<uint16_t>(first);
      return absl::OkStatus();
    }
    if (n == 0) return absl::OkStatus();
    const std::optional<isa::DType> dtype = isa::DTypeFromCode(x.dtype);
    const uint64_t bytes = dtype ? isa::DTypeBytes(*dtype) : 4;
    for (uint64_t b = 0; b < n; ++b) {
      for (uint64_t l = 0; l < x.cols; ++l) {
        const auto word = static_cast<uint32_t>(GetBits(m_->st_rd_data, (b * LW + l) * 32, 32));
        const uint8_t out[4] = {static_cast<uint8_t>(word), static_cast<uint8_t>(word >> 8),
                                static_cast<uint8_t>(word >> 16), static_cast<uint8_t>(word >> 24)};
        const uint64_t r = first + b;
        const uint64_t addr = job_->frame_base + x.addr + (r * x.row_stride + l * x.col_stride) * bytes;
        if (absl::Status s = state_->dram.Write(addr, out, bytes); !s.ok()) {
          return absl::InternalError(absl::StrCat("instruction ", x.index, ": DMA write the "
                                                  "functional engine admitted failed: ", s.message()));
        }
      }
    }
    return absl::OkStatus();
  }
  const uint64_t width = e == kLoad ? LW : C;
  auto& valid = e == kLoad ? m_->ld_beat_valid : m_->wt_beat_valid;
  auto& first_in = e == kLoad ? m_->ld_beat_first : m_->wt_beat_first;
  auto& n_in = e == kLoad ? m_->ld_beat_n : m_->wt_beat_n;
  valid = n > 0;
  first_in = static_cast<uint16_t>(first);
  n_in = static_cast<uint8_t>(n);
  for (uint64_t b = 0; b < n; ++b) {
    for (uint64_t l = 0; l < width; ++l) {
      uint32_t raw = 0;
      if (l < x.cols) TPUSIM_RETURN_IF_ERROR(ReadElement(x, first + b, l, raw));
      if (e == kLoad) SetBits(m_->ld_beat_data, (b * width + l) * 32, 32, raw);
      else SetBits(m_->wt_beat_data, (b * width + l) * 32, 32, raw);
    }
  }
  return absl::OkStatus();
}

template <typename M>
void CoreHarness<M>::SetInputs(uint64_t t) {
  const uint32_t pc = m_->imem_addr;
  const isa::Word zero{};
  const isa::Word& w = pc < words_.size() ? words_[pc] : zero;
  for (unsigned i = 0; i < 4; ++i) SetBits(m_->imem_data, i * 64, 64, w[i]);
  // dma_done[e]: the engine's transfers completing at t (at most 2, see Transfer); dma_release[e]:
  // its newest transfer leaves the channel at t.
  uint8_t done = 0, release = 0;
  for (int e = 0; e < 3; ++e) {
    uint32_t n = 0;
    for (const Transfer& x : xfer_[e]) {
      if (x.complete != t) break;
      ++n;
    }
    done |= static_cast<uint8_t>(n << (2 * e));
    if (!xfer_[e].empty() && xfer_[e].back().release == t) release |= static_cast<uint8_t>(1u << e);
  }
  m_->dma_done = done;
  m_->dma_release = release;
}

// Requests of cycle t (load, weight, store: the channel's service order) and the observation ports.
template <typename M>
absl::Status CoreHarness<M>::TakeOutputs(uint64_t t) {
  for (int e = 0; e < 3; ++e) {
    if (!GetBits(m_->req_valid, e, 1)) continue;
    Transfer& x = xfer_[e].emplace_back();
    x.index = static_cast<uint32_t>(GetBits(m_->ev_start_idx, e * 32, 32));
    x.addr = GetBits(m_->req_addr, e * 48, 48);
    x.rows = GetBits(m_->req_rows, e * 16, 16);
    x.cols = GetBits(m_->req_cols, e * 16, 16);
    x.row_stride = GetBits(m_->req_row_stride, e * 32, 32);
    x.col_stride = GetBits(m_->req_col_stride, e * 32, 32);
    x.dtype = GetBits(m_->req_dtype, e * 3, 3);
    const simulator::DmaShape shape = simulator::DmaShapeOf((*job_->code)[x.index]);
    if (shape.rows != x.rows) {
      return absl::InternalError(absl::StrCat("instruction ", x.index, ": the core requested ",
                                              x.rows, " rows, the program says ", shape.rows));
    }
    const uint64_t hold = channel_->timing().HoldCycles(shape);
    const simulator::DramChannelModel::Grant grant = channel_->Request(t, hold);
    x.complete = grant.complete;
    x.release = grant.release;
    x.beats = (x.rows + BANKS - 1) / BANKS;
  }
  return absl::OkStatus();
}

}  // namespace tpusim::rtl
