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
//           the order the MATMULs need its work in (PlaceLoads).
#include "codegen_gemm.h"

#include <algorithm>
#include <cmath>
#include <map>

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

namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
constexpr uint64_t kMaxInterleavedNTiles = 4;  // see GemmEmitter::interleave_

struct ABlock {  // A rows [m0, m0+mt) x k-tiles [kt0, kt0+count) in part-0 buffer `slot`
  uint64_t m0, mt, kt0, count, slot;
};
struct Step {  // one MATMUL: k-tile `pos` of block `block`, precision pass `pass`, output tile `tile`
  size_t block;
  uint64_t pos;
  size_t pass, tile;
};
struct OutTile {
  uint64_t m0, mt, n0, nt;
  size_t first_step, last_step;
};

class GemmEmitter {
 public:
  GemmEmitter(CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e)
      : ctx_(ctx), g_(g), e_(e), plan_(PlanGemm(ctx, g, e)),
        passes_(PrecisionPasses(ctx.precision())),
        fifo_(std::max<uint64_t>(1, ctx.arch().weight_fifo_depth())) {}

  void Run();

 private:
  void Layout();
  void BuildSteps();
  void PlaceLoads();
  void EmitSlot(size_t slot);
  void LoadA(size_t b, uint64_t pos);
  void SplitA(size_t b, uint64_t pos);
  void LoadWeights(size_t s);
  void LoadTileInput(size_t t, bool c);  // bias (c = false) or C of output tile t
  void Epilogue(size_t t);
  uint64_t APartRow(size_t b, uint64_t pos, int part) const {
    const uint64_t base = part == 0 ? a0_[blocks_[b].slot] : a_part_[static_cast<size_t>(part)];
    return base + pos * plan_.mt;
  }
  uint64_t CRows(const OutTile& t) const { return e_.c->row_stride == 0 ? 1 : t.mt; }
  // Accumulator row of tile t: interleaved, a region per n-tile of an m-tile, two sets; else acc_slots.
  uint64_t AccRow(size_t t) const {
    return (interleave_ ? t % (2 * n_tiles_) : t % plan_.acc_slots) * plan_.mt;
  }
  bool ChooseInterleave() const;

  CodegenContext& ctx_;
  const GemmOperands& g_;
  const GemmEpilogue& e_;
  const GemmPlan plan_;
  const std::vector<std::pair<int, int>> passes_;
  const uint64_t fifo_;
  // kTokens, resident A, 2..kMaxInterleavedNTiles n-tiles: an m-tile's steps run k-tile by k-tile over
  // all its n-tiles, so its A loads overlap every n-tile's MATMULs; per tile the order (so the bits) stays.
  bool interleave_ = false;
  uint64_t n_tiles_ = 1;
  // UB rows.
  std::vector<uint64_t> a0_, a_part_, out_, c_, bias_;
  std::vector<ABlock> blocks_;
  std::vector<Step> steps_;
  std::vector<OutTile> tiles_;
  // kSerial: the A loads at each step (a block's first). kTokens: the load-queue work emitted right
  // after MATMUL k (slot k + 1; slot 0 is the prologue), in the order the MATMULs need it.
  struct LoadItem {
    size_t need;     // the step whose MATMUL needs it
    bool is_a;       // an A k-tile (block, pos) or the weight tile of step `need`
    size_t block;
    uint64_t pos;
  };
  std::vector<std::vector<std::pair<size_t, uint64_t>>> load_before_;
  std::vector<std::vector<LoadItem>> load_slot_;
  std::vector<bool> first_use_;  // the first step of its (block, k-tile): the split goes there
};

bool GemmEmitter::ChooseInterleave() const {
  // Few n-tiles only: all their epilogues come after the last k-tile; many make a tail longer than the gain.
  if (!ctx_.overlapped() || !plan_.resident || n_tiles_ < 2 || n_tiles_ > kMaxInterleavedNTiles ||
      2 * n_tiles_ * plan_.mt > ctx_.arch().accumulator_entries()) return false;
  const uint64_t P = static_cast<uint64_t>(NumBf16Parts(ctx_.precision()));
  const uint64_t rows = (plan_.a_slots + P - 1) * plan_.chunk * plan_.mt + plan_.out_slots * plan_.mt +
                        (e_.c.has_value() ? 2 * plan_.mt : 0) + (e_.bias.has_value() ? 2 * n_tiles_ : 0);
  return rows <= ctx_.ub_rows();
}

void GemmEmitter::Layout() {
  const uint64_t P = static_cast<uint64_t>(NumBf16Parts(ctx_.precision()));
  UbAllocator alloc = ctx_.NewUb();
  const uint64_t a_rows = plan_.chunk * plan_.mt;
  for (uint64_t s = 0; s < plan_.a_slots; ++s) a0_.push_back(alloc.Take(a_rows));
  a_part_.push_back(0);  // part 0 lives in a0_
  for (uint64_t p = 1; p < P; ++p) a_part_.push_back(alloc.Take(a_rows));
  for (uint64_t s = 0; s < plan_.out_slots; ++s) out_.push_back(alloc.Take(plan_.mt));
  if (e_.c.has_value()) {
    for (uint64_t s = 0; s < (interleave_ ? 2 : plan_.c_slots); ++s) c_.push_back(alloc.Take(plan_.mt));
  }
  if (e_.bias.has_value()) {
    for (uint64_t s = 0; s < (interleave_ ? 2 * n_tiles_ : plan_.bias_slots); ++s) bias_.push_back(alloc.Take(1));
  }
}

void GemmEmitter::BuildSteps() {
  const uint64_t R = ctx_.array_rows(), C = ctx_.array_cols();
  const uint64_t KT = g_.k_tiles.empty() ? CeilDiv(g_.k, R) : g_.k_tiles.size();
  auto add_block = [&](uint64_t m0, uint64_t mt, uint64_t kt0, uint64_t count) {
    blocks_.push_back({m0, mt, kt0, count, blocks_.size() % plan_.a_slots});
  };
  for (uint64_t m0 = 0; m0 < g_.m; m0 += plan_.mt) {
    const uint64_t mt = std::min(plan_.mt, g_.m - m0);
    if (plan_.resident) add_block(m0, mt, 0, KT);
    if (interleave_) {  // resident: one block of all KT k-tiles
      const size_t first_tile = tiles_.size();
      for (uint64_t n0 = 0; n0 < g_.n; n0 += C) tiles_.push_back({m0, mt, n0, std::min(C, g_.n - n0), 0, 0});
      for (uint64_t pos = 0; pos < KT; ++pos) {
        for (size_t t = first_tile; t < tiles_.size(); ++t) {
          for (size_t pass = 0; pass < passes_.size(); ++pass) {
            if (pos == 0 && pass == 0) tiles_[t].first_step = steps_.size();
            tiles_[t].last_step = steps_.size();
            steps_.push_back({blocks_.size() - 1, pos, pass, t});
          }
        }
      }
      continue;
    }
    for (uint64_t n0 = 0; n0 < g_.n; n0 += C) {
      tiles_.push_back({m0, mt, n0, std::min(C, g_.n - n0), steps_.size(), 0});
      for (uint64_t kt0 = 0; kt0 < KT; kt0 += plan_.chunk) {
        const uint64_t count = std::min(plan_.chunk, KT - kt0);
        if (!plan_.resident) add_block(m0, mt, kt0, count);
        for (uint64_t pos = 0; pos < count; ++pos) {
          for (size_t pass = 0; pass < passes_.size(); ++pass) {
            steps_.push_back({blocks_.size() - 1, pos, pass, tiles_.size() - 1});
          }
        }
      }
      tiles_.back().last_step = steps_.size() - 1;
    }
  }
}

// Where the loads go. kSerial: a block's A loads at its first step; weights in Run(). kTokens: the
// weight tile of step s right after MATMUL s - F (F = FIFO depth: the FIFO never overflows in
// program order), and A k-tile j of block b D steps before its first MATMUL, D = F + the steps one A
// load takes + 1 (resident with two A buffers, earlier still: the next m-tile's loads spread evenly
// over this m-tile's steps), but never before the last MATMUL that reads the UB rows it overwrites (with two A buffers
// that was two blocks back; with one, the previous block's k-tile j: refill).
void GemmEmitter::PlaceLoads() {
  const size_t n = steps_.size();
  first_use_.assign(n, false);
  std::vector<size_t> first_step(blocks_.size(), n), last_step(blocks_.size(), 0);
  std::vector<std::vector<size_t>> first_use(blocks_.size()), last_use(blocks_.size());
  for (size_t b = 0; b < blocks_.size(); ++b) {
    first_use[b].assign(blocks_[b].count, n);
    last_use[b].assign(blocks_[b].count, 0);
  }
  for (size_t s = 0; s < n; ++s) {
    const Step& st = steps_[s];
    first_step[st.block] = std::min(first_step[st.block], s);
    last_step[st.block] = s;
    if (first_use[st.block][st.pos] == n) {
      first_use[st.block][st.pos] = s;
      first_use_[s] = true;
    }
    last_use[st.block][st.pos] = s;
  }
  if (!ctx_.overlapped()) {
    load_before_.assign(n, {});
    for (size_t b = 1; b < blocks_.size(); ++b) {
      for (uint64_t j = 0; j < blocks_[b].count; ++j) load_before_[first_step[b]].push_back({b, j});
    }
    return;
  }
  const uint64_t R = ctx_.array_rows();
  const uint64_t a_bytes = plan_.mt * std::min<uint64_t>(R, g_.k) * kF32Bytes;
  const double a_cycles = GemmDmaCycles(ctx_.arch(), static_cast<double>(a_bytes));
  const size_t lookahead = fifo_ + static_cast<size_t>(std::ceil(a_cycles / static_cast<double>(plan_.mt))) + 1;
  load_slot_.assign(n + 1, {});
  for (size_t s = 0; s < n; ++s) load_slot_[s < fifo_ ? 0 : s - fifo_ + 1].push_back({s, false, 0, 0});
  std::map<std::pair<uint64_t, uint64_t>, size_t> last_reader;  // (buffer, k-tile) -> step + 1
  for (size_t b = 0; b < blocks_.size(); ++b) {
    for (uint64_t j = 0; j < blocks_[b].count; ++j) {
      const size_t need = first_use[b][j];
      size_t slot = need >= lookahead ? need - lookahead + 1 : 0;
      if (plan_.resident && b > 0 && blocks_[b].slot != blocks_[b - 1].slot) {  // spread over the previous m-tile
        const size_t len = last_step[b - 1] - first_step[b - 1] + 1;
        slot = std::min<size_t>(slot, first_step[b - 1] + 1 + j * len / blocks_[b].count);
      }
      if (auto it = last_reader.find({blocks_[b].slot, j}); it != last_reader.end()) slot = std::max(slot, it->second);
      load_slot_[slot].push_back({need, true, b, j});
    }
    for (uint64_t j = 0; j < blocks_[b].count; ++j) last_reader[{blocks_[b].slot, j}] = last_use[b][j] + 1;
  }
  for (std::vector<LoadItem>& items : load_slot_) {
    std::stable_sort(items.begin(), items.end(), [](const LoadItem& x, const LoadItem& y) {
      return x.need != y.need ? x.need < y.need : (!x.is_a && y.is_a);  // same step: the weights first
    });
  }
}

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
  if (!g_.k_tiles.empty()) {
    const GemmOperands::KTile& kt = g_.k_tiles[blk.kt0 + pos];
    ctx_.Load(isa::DType::F32, kt.a.Offset(blk.m0, 0), APartRow(b, pos, 0), blk.mt, kt.rows);
    return;
  }
  const uint64_t R = ctx_.array_rows(), k0 = (blk.kt0 + pos) * R;
  ctx_.Load(isa::DType::F32, g_.a.Offset(blk.m0, k0), APartRow(b, pos, 0), blk.mt, std::min(R, g_.k - k0));
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
    ctx_.LoadWeights(g_.b_dtype, kt.b_parts[part_index].Offset(0, t.n0, b_bytes), kt.rows, t.nt);
    return;
  }
  const DramView& part = g_.b_parts[part_index];
  ctx_.LoadWeights(g_.b_dtype, part.Offset(k0, t.n0, b_bytes), std::min(R, g_.k - k0), t.nt);
}

void GemmEmitter::LoadTileInput(size_t t, bool c) {
  const OutTile& tile = tiles_[t];
  if (c) {
    ctx_.Load(isa::DType::F32, e_.c->Offset(tile.m0, tile.n0), c_[t % c_.size()], CRows(tile), tile.nt);
  } else {
    ctx_.Load(isa::DType::F32, e_.bias->Offset(0, tile.n0), bias_[t % bias_.size()], 1, tile.nt);
  }
}

// Accumulators -> UB (func, bias) -> alpha, beta * C -> Y.
void GemmEmitter::Epilogue(size_t t) {
  const OutTile& tile = tiles_[t];
  const uint64_t out = out_[t % out_.size()], acc_row = AccRow(t);
  if (interleave_ && e_.c.has_value() && t + 1 < tiles_.size()) LoadTileInput(t + 1, /*c=*/true);
  std::optional<uint64_t> bias;
  if (e_.bias.has_value()) bias = bias_[t % bias_.size()];
  const bool late_func = e_.c_then_func && e_.c.has_value() && e_.func != isa::ActFunc::None;
  ctx_.Activate(acc_row, out, tile.mt, late_func ? isa::ActFunc::None : e_.func, bias);
  if (e_.alpha != 1.0f) ctx_.Vector(isa::VectorOp::MulImm, out, out, 0, tile.mt, false, e_.alpha);
  if (e_.c.has_value()) {
    const uint64_t c = c_[t % c_.size()], c_rows = CRows(tile);
    if (c_.size() == 1) LoadTileInput(t, /*c=*/true);
    if (e_.beta != 1.0f) ctx_.Vector(isa::VectorOp::MulImm, c, c, 0, c_rows, false, e_.beta);
    ctx_.Vector(isa::VectorOp::Add, out, out, c, tile.mt, /*b_bcast=*/c_rows == 1 && tile.mt > 1);
  }
  if (late_func) ctx_.Vector(*VectorOpOfActivation(e_.func), out, out, 0, tile.mt);
  ctx_.Store(isa::DType::F32, g_.y.Offset(tile.m0, tile.n0), out, tile.mt, tile.nt);
}

void GemmEmitter::Run() {
  n_tiles_ = CeilDiv(g_.n, ctx_.array_cols());
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
  if (!interleave_ && bias_.size() == 2) LoadTileInput(0, false);
  if (c_.size() == 2) LoadTileInput(0, true);
  size_t group_end = 0;  // kSerial: weight loads go in groups that fill the FIFO, then their MATMULs
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& st = steps_[s];
    const OutTile& tile = tiles_[st.tile];
    if (s == tile.first_step && interleave_) {
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
    const uint64_t a_row = APartRow(st.block, st.pos, passes_[st.pass].first);
    ctx_.Matmul(a_row, AccRow(st.tile), tile.mt, /*accumulate=*/s != tile.first_step,
                /*pop_weights=*/true);
    if (overlapped) EmitSlot(s + 1);
    if (s == tile.last_step) Epilogue(st.tile);
  }
}

}  // namespace

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
  GemmEmitter(ctx, g, e).Run();
}

}  // namespace tpusim::compiler::codegen
