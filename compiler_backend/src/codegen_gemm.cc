// GEMM tiling (codegen_gemm.h).
//
// Tiles: N by array_cols (one weight tile's columns), K by array_rows (one weight tile's rows), M by
// Mt <= min(M, accumulator_entries, what the UB holds) (PlanGemm, codegen_gemm_plan.cc). For each
// output tile (m-tile, n-tile) every k-tile and every precision pass (i, j) pushes B part j's tile and
// streams A part i's rows through the array into the same accumulator rows (the first product
// overwrites, the rest accumulate), in k-tile then pass order whatever the tiling and schedule, so the
// bits never depend on them. A's rows sit in the UB as "blocks" of k-tiles: part 0 is A itself (the
// array rounds it to bf16 = p0), part p+1 = part p - bf16(part p), whose bf16 rounding by the array is
// p_{p+1} (see SplitBf16Parts), derived per k-tile just before its first MATMUL. When A's whole m-tile
// fits, its block is loaded once per m-tile and reused across n-tiles (resident); otherwise one block
// per output tile and chunk of k-tiles.
//
// Schedules (CompileOptions::schedule, see CodegenContext::Emit):
//  kSerial: the largest Mt, single buffers; A blocks and bias loaded where first needed, C in the
//           epilogue; weight loads in groups that fill the FIFO, then their MATMULs (few queue
//           changes = few SYNCs).
//  kTokens: Mt from the cost model; weight loads run F = FIFO depth tiles ahead of their MATMULs; each
//           A k-tile is loaded a few steps before its first MATMUL into the other part-0 buffer, or,
//           with one buffer, right after its last reader (refill); bias and C of tile t+1 go to the
//           other buffer while tile t runs; output tiles alternate UB output buffers and accumulator
//           halves, so the epilogue and STORE of tile t overlap tile t+1. The load queue's order is
//           the order the MATMULs need its work in (PlaceLoads). On an arch with several matrix
//           units the output tiles run in waves over the units (codegen_gemm_emitter.h; plan in
//           codegen_mxu_plan.cc); weight loads then run F tiles ahead per unit.
#include "codegen_gemm.h"

#include <algorithm>

#include "codegen_gemm_emitter.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

int NumBf16Parts(Precision p) {
  switch (p) {
    case Precision::kBf16: return 1;
    case Precision::kHigh: return 2;
    case Precision::kHighest: return 3;
  }
  TPUSIM_UNREACHABLE();
}

std::vector<std::pair<int, int>> PrecisionPasses(Precision p) {
  switch (p) {
    case Precision::kBf16: return {{0, 0}};
    case Precision::kHigh: return {{1, 0}, {0, 1}, {0, 0}};
    case Precision::kHighest: return {{2, 0}, {1, 1}, {0, 2}, {1, 0}, {0, 1}, {0, 0}};
  }
  TPUSIM_UNREACHABLE();
}

// Mt = 1 with G = 1: parts + output row + C row + bias row.
uint64_t GemmMinUbRows(Precision p) { return static_cast<uint64_t>(NumBf16Parts(p)) + 3; }

namespace gemm_detail {

void GemmEmitter::EmitSlot(size_t slot) {
  for (const LoadItem& item : load_slot_[slot]) {
    if (item.is_a) {
      LoadA(item.block, item.pos);
    } else {
      LoadWeights(item.need);
    }
  }
}

void GemmEmitter::LoadA(size_t b, uint64_t pos) {
  const ABlock& blk = blocks_[b];
  DramView view;
  uint64_t lanes = 0;
  if (!g_.k_tiles.empty()) {
    const GemmOperands::KTile& kt = g_.k_tiles[blk.kt0 + pos];
    view = kt.a;
    lanes = kt.rows;
  } else {
    const uint64_t R = ctx_.array_rows(), k0 = (blk.kt0 + pos) * R;
    view = g_.a.Offset(0, k0);
    lanes = std::min(R, g_.k - k0);
  }
  const uint64_t ub = APartRow(b, pos, 0);
  if (g_.a_keep == 0) {
    ctx_.Load(isa::DType::F32, view.Offset(blk.m0, 0), ub, blk.mt, lanes);
    return;
  }
  const uint64_t keep = g_.a_keep, end = blk.m0 + blk.mt;
  for (uint64_t r = blk.m0 / keep; r * keep < end; ++r) {
    const uint64_t lo = std::max(blk.m0, r * keep), hi = std::min(end, (r + 1) * keep);
    const DramView run{view.addr + (r * g_.a_period + (lo - r * keep) * view.row_stride) * kF32Bytes, view.row_stride,
                       view.lane_stride};
    ctx_.Load(isa::DType::F32, run, ub + (lo - blk.m0), hi - lo, lanes);
  }
}

// Parts 1.. of one k-tile of A from part 0 (part p+1 = part p - bf16(part p)).
void GemmEmitter::SplitA(size_t b, uint64_t pos) {
  const uint64_t rows = blocks_[b].mt;
  for (size_t p = 1; p < a_part_.size(); ++p) {
    const int part = static_cast<int>(p);
    ctx_.Vector(isa::VectorOp::RoundBf16, APartRow(b, pos, part), APartRow(b, pos, part - 1), 0, rows);
    ctx_.Vector(isa::VectorOp::Sub, APartRow(b, pos, part), APartRow(b, pos, part - 1), APartRow(b, pos, part), rows);
  }
}

void GemmEmitter::LoadWeights(size_t s) {
  const Step& st = steps_[s];
  const OutTile& t = tiles_[st.tile];
  const uint64_t R = ctx_.array_rows(), k0 = (blocks_[st.block].kt0 + st.pos) * R;
  const uint64_t b_bytes = g_.b_dtype == isa::DType::BF16 ? kBf16Bytes : kF32Bytes;
  const size_t part_index = static_cast<size_t>(passes_[st.pass].second);
  if (!g_.k_tiles.empty()) {
    const GemmOperands::KTile& kt = g_.k_tiles[blocks_[st.block].kt0 + st.pos];
    ctx_.LoadWeights(g_.b_dtype, kt.b_parts[part_index].Offset(0, t.n0, b_bytes), kt.rows, t.nt, UnitOf(st.tile));
    return;
  }
  const DramView& part = g_.b_parts[part_index];
  ctx_.LoadWeights(g_.b_dtype, part.Offset(k0, t.n0, b_bytes), std::min(R, g_.k - k0), t.nt, UnitOf(st.tile));
}

void GemmEmitter::LoadTileInput(size_t t, bool c) {
  const OutTile& tile = tiles_[t];
  if (c) {
    ctx_.Load(isa::DType::F32, e_.c->Offset(tile.m0, tile.n0), CRow(t), CRows(tile), tile.nt);
  } else {
    ctx_.Load(isa::DType::F32, e_.bias->Offset(0, tile.n0), BiasRow(t), 1, tile.nt);
  }
}

void GemmEmitter::LoadWaveInputs(size_t w) {
  for (size_t t = waves_[w].first_tile; t < waves_[w].first_tile + waves_[w].num_tiles; ++t) {
    if (bias_.size() == 2) LoadTileInput(t, /*c=*/false);
    if (c_.size() == 2) LoadTileInput(t, /*c=*/true);
  }
}

// Accumulators -> UB (func, bias) -> alpha, beta * C -> Y.
void GemmEmitter::Epilogue(size_t t) {
  const OutTile& tile = tiles_[t];
  const uint64_t out = OutRow(t), acc_row = AccRow(t);
  if (interleave_ && e_.c.has_value() && t + 1 < tiles_.size()) LoadTileInput(t + 1, /*c=*/true);
  std::optional<uint64_t> bias;
  if (e_.bias.has_value()) bias = BiasRow(t);
  const bool late_func = e_.c_then_func && e_.c.has_value() && e_.func != isa::ActFunc::None;
  ctx_.Activate(acc_row, out, tile.mt, late_func ? isa::ActFunc::None : e_.func, bias);
  if (e_.alpha != 1.0f) ctx_.Vector(isa::VectorOp::MulImm, out, out, 0, tile.mt, false, e_.alpha);
  if (e_.c.has_value()) {
    const uint64_t c = CRow(t), c_rows = CRows(tile);
    if (c_.size() == 1) LoadTileInput(t, /*c=*/true);
    if (e_.beta != 1.0f) ctx_.Vector(isa::VectorOp::MulImm, c, c, 0, c_rows, false, e_.beta);
    ctx_.Vector(isa::VectorOp::Add, out, out, c, tile.mt, /*b_bcast=*/c_rows == 1 && tile.mt > 1);
  }
  if (late_func) ctx_.Vector(*VectorOpOfActivation(e_.func), out, out, 0, tile.mt);
  if (g_.y_period == 0) {
    ctx_.Store(isa::DType::F32, g_.y.Offset(tile.m0, tile.n0), out, tile.mt, tile.nt);
    return;
  }
  const uint64_t period = g_.y_period, end = tile.m0 + tile.mt;
  for (uint64_t r = tile.m0 / period; r * period < end; ++r) {
    const uint64_t lo = std::max(tile.m0, r * period), hi = std::min(end, r * period + g_.y_keep);
    if (lo >= hi) continue;
    ctx_.Store(isa::DType::F32, g_.y.Offset(r * g_.y_keep + (lo - r * period), tile.n0), out + (lo - tile.m0), hi - lo,
               tile.nt);
  }
}

void GemmEmitter::Run() {
  n_tiles_ = CeilDiv(g_.n, ctx_.array_cols());
  if (multi_) wave_ = WaveShapeOf(plan_, n_tiles_);
  interleave_ = ChooseInterleave();
  Layout();
  BuildSteps();
  PlaceLoads();
  const bool overlapped = ctx_.overlapped();
  // Prologue: block 0 (kSerial) or slot 0 (kTokens), the double-buffered inputs of tile 0.
  if (overlapped) {
    EmitSlot(0);
  } else {
    for (uint64_t j = 0; j < blocks_[0].count; ++j) LoadA(0, j);
  }
  if (multi_) {
    LoadWaveInputs(0);
  } else {
    if (!interleave_ && bias_.size() == 2) LoadTileInput(0, false);
    if (c_.size() == 2) LoadTileInput(0, true);
  }
  size_t group_end = 0;  // kSerial: weight loads go in groups that fill the FIFO, then their MATMULs
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& st = steps_[s];
    const OutTile& tile = tiles_[st.tile];
    if (multi_) {
      const Wave& w = waves_[tile.wave];
      if (s == w.first_step && tile.wave + 1 < waves_.size()) LoadWaveInputs(tile.wave + 1);  // other buffers
      for (size_t t = w.first_tile; s == w.first_step && bias_.size() == 1 && t < w.first_tile + w.num_tiles; ++t) {
        LoadTileInput(t, false);
      }
    } else if (s == tile.first_step && interleave_) {
      if (!bias_.empty()) LoadTileInput(st.tile, false);
    } else if (s == tile.first_step) {
      if (st.tile + 1 < tiles_.size()) {  // the next tile's inputs, into the other buffer
        if (bias_.size() == 2) LoadTileInput(st.tile + 1, false);
        if (c_.size() == 2) LoadTileInput(st.tile + 1, true);
      }
      if (bias_.size() == 1) LoadTileInput(st.tile, false);
    }
    if (!overlapped) {
      for (const auto& [b, j] : load_before_[s]) LoadA(b, j);
    }
    if (!overlapped && s >= group_end) {  // a group never spans a block or a tile
      group_end = s;
      while (group_end < steps_.size() && group_end - s < fifo_ && steps_[group_end].block == st.block &&
             steps_[group_end].tile == st.tile) {
        LoadWeights(group_end++);
      }
    }
    if (first_use_[s]) SplitA(st.block, st.pos);
    // A sub-tile (several units, m_split > 1) reads its rows of the block.
    const uint64_t a_row = APartRow(st.block, st.pos, passes_[st.pass].first) + (tile.m0 - blocks_[st.block].m0);
    ctx_.Matmul(a_row, AccRow(st.tile), tile.mt, /*accumulate=*/s != tile.first_step,
                /*pop_weights=*/true, UnitOf(st.tile));
    if (multi_ && s == waves_[tile.wave].last_step) {  // the wave's epilogues after one drain, then its loads
      const Wave& w = waves_[tile.wave];
      for (size_t t = w.first_tile; t < w.first_tile + w.num_tiles; ++t) Epilogue(t);
      EmitSlot(s + 1);
      continue;
    }
    if (overlapped) EmitSlot(s + 1);
    if (!multi_ && s == tile.last_step) Epilogue(st.tile);
  }
}

}  // namespace gemm_detail

std::optional<isa::VectorOp> VectorOpOfActivation(isa::ActFunc func) {
  switch (func) {
    case isa::ActFunc::None: return isa::VectorOp::Copy;
    case isa::ActFunc::Relu: return isa::VectorOp::Relu;
    case isa::ActFunc::Sigmoid: return isa::VectorOp::Sigmoid;
    case isa::ActFunc::Tanh: return isa::VectorOp::Tanh;
    default: return std::nullopt;
  }
}

void EmitGemm(CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e) {
  if (g.m == 0 || g.n == 0) return;
  TPUSIM_CHECK(!e.c_then_func || (e.alpha == 1.0f && e.beta == 1.0f &&
                                  (e.func == isa::ActFunc::None || VectorOpOfActivation(e.func).has_value())),
               "EmitGemm: c_then_func needs alpha = beta = 1 and a vector-unit activation");
  TPUSIM_CHECK(g.k > 0, "EmitGemm: empty reduction reached codegen");
  TPUSIM_CHECK(!g.b_parts.empty() || !g.k_tiles.empty(), "EmitGemm: no B parts");
  gemm_detail::GemmEmitter(ctx, g, e).Run();
}

}  // namespace tpusim::compiler::codegen
