// GEMM tiling (codegen_gemm.h).
//
// Tiles: N by array_cols (one weight tile's columns), K by array_rows (one weight tile's rows), M by
// Mt = min(M, accumulator_entries, what the UB holds). For each (m-tile, n-tile) every k-tile and every
// precision pass (i, j) pushes B part j's tile and streams A part i's rows through the array into the
// same accumulator rows (the first product overwrites, the rest accumulate). A's rows are kept in the
// UB as NumBf16Parts region(s) per k-tile: part 0 is A itself (the array rounds it to bf16 = p0), part
// p+1 = part p - bf16(part p), whose bf16 rounding by the array is p_{p+1} (see SplitBf16Parts). When
// A's whole m-tile (all k-tiles) fits, it is loaded and split once per m-tile and reused across
// n-tiles; otherwise per (m-tile, n-tile) in chunks of G k-tiles.
#include "codegen_gemm.h"

#include <algorithm>

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

// UB layout of one GEMM: A part p of k-tile g (of the current chunk) at a_part[p] + g * mt.
struct GemmUb {
  std::vector<uint64_t> a_part;
  uint64_t out = 0, c = 0, bias = 0;
};

// LOADs A rows [m0, m0+mt) x k-tiles [kt0, kt0+count) into part 0 and derives parts 1.. from it.
void LoadASplit(CodegenContext& ctx, const GemmOperands& g, const GemmUb& ub, uint64_t m0, uint64_t mt,
                uint64_t kt0, uint64_t count) {
  const uint64_t R = ctx.array_rows();
  for (uint64_t t = 0; t < count; ++t) {
    const uint64_t k0 = (kt0 + t) * R;
    ctx.Load(isa::DType::F32, g.a.Offset(m0, k0), ub.a_part[0] + t * mt, mt, std::min(R, g.k - k0));
  }
  const uint64_t rows = count * mt;
  for (size_t p = 1; p < ub.a_part.size(); ++p) {
    ctx.Vector(isa::VectorOp::RoundBf16, ub.a_part[p], ub.a_part[p - 1], 0, rows);
    ctx.Vector(isa::VectorOp::Sub, ub.a_part[p], ub.a_part[p - 1], ub.a_part[p], rows);
  }
}

}  // namespace

void EmitGemm(CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e) {
  if (g.m == 0 || g.n == 0) return;
  TPUSIM_CHECK(g.k > 0, "EmitGemm: empty reduction reached codegen");
  TPUSIM_CHECK(!g.b_parts.empty(), "EmitGemm: no B parts");
  const uint64_t R = ctx.array_rows(), C = ctx.array_cols();
  const uint64_t P = static_cast<uint64_t>(NumBf16Parts(ctx.precision()));
  const std::vector<std::pair<int, int>> passes = PrecisionPasses(ctx.precision());
  const uint64_t b_bytes = g.b_dtype == isa::DType::BF16 ? kBf16Bytes : kF32Bytes;
  const uint64_t KT = CeilDiv(g.k, R);
  const uint64_t fifo = std::max<uint64_t>(1, ctx.arch().weight_fifo_depth());

  // Tile sizes: per m row the UB holds P A-part rows per k-tile of a chunk, one output row and one C row.
  const uint64_t rows_per_m = 1 + (e.c.has_value() ? 1 : 0);
  const uint64_t fixed = e.bias.has_value() ? 1 : 0;
  const uint64_t ub_rows = ctx.ub_rows();
  TPUSIM_CHECK(ub_rows >= GemmMinUbRows(ctx.precision()), "EmitGemm: UB too small (checked upstream)");
  const uint64_t mt_max = std::min<uint64_t>(
      {g.m, std::max<uint32_t>(1, ctx.arch().accumulator_entries()), kMaxInstRows, (ub_rows - fixed) / (P + rows_per_m)});
  const uint64_t chunk_tiles = std::min({KT, (ub_rows - fixed - mt_max * rows_per_m) / (P * mt_max), kMaxInstRows / mt_max});
  TPUSIM_CHECK(mt_max >= 1 && chunk_tiles >= 1, "EmitGemm: tile sizing");
  const bool a_resident = chunk_tiles == KT;

  UbAllocator alloc = ctx.NewUb();
  GemmUb ub;
  for (uint64_t p = 0; p < P; ++p) ub.a_part.push_back(alloc.Take(chunk_tiles * mt_max));
  ub.out = alloc.Take(mt_max);
  if (e.c.has_value()) ub.c = alloc.Take(mt_max);
  if (e.bias.has_value()) ub.bias = alloc.Take(1);

  for (uint64_t m0 = 0; m0 < g.m; m0 += mt_max) {
    const uint64_t mt = std::min(mt_max, g.m - m0);
    if (a_resident) LoadASplit(ctx, g, ub, m0, mt, 0, KT);
    for (uint64_t n0 = 0; n0 < g.n; n0 += C) {
      const uint64_t nt = std::min(C, g.n - n0);
      if (e.bias.has_value()) ctx.Load(isa::DType::F32, e.bias->Offset(0, n0), ub.bias, 1, nt);
      bool first = true;
      for (uint64_t kt0 = 0; kt0 < KT; kt0 += chunk_tiles) {
        const uint64_t count = std::min(chunk_tiles, KT - kt0);
        if (!a_resident) LoadASplit(ctx, g, ub, m0, mt, kt0, count);
        // Every (k-tile, pass) product of the chunk, in order; weight loads go in groups that fill the FIFO.
        const uint64_t steps = count * passes.size();
        for (uint64_t s0 = 0; s0 < steps; s0 += fifo) {
          const uint64_t s1 = std::min(steps, s0 + fifo);
          for (uint64_t s = s0; s < s1; ++s) {
            const uint64_t k0 = (kt0 + s / passes.size()) * R;
            const DramView& part = g.b_parts[passes[s % passes.size()].second];
            ctx.LoadWeights(g.b_dtype, part.Offset(k0, n0, b_bytes), std::min(R, g.k - k0), nt);
          }
          for (uint64_t s = s0; s < s1; ++s) {
            const uint64_t a_row = ub.a_part[passes[s % passes.size()].first] + (s / passes.size()) * mt;
            ctx.Matmul(a_row, /*acc_row=*/0, mt, /*accumulate=*/!first, /*pop_weights=*/true);
            first = false;
          }
        }
      }
      // Epilogue: accumulators -> UB (func, bias) -> alpha, beta * C -> Y.
      ctx.Activate(0, ub.out, mt, e.func, e.bias.has_value() ? std::optional<uint64_t>(ub.bias) : std::nullopt);
      if (e.alpha != 1.0f) ctx.Vector(isa::VectorOp::MulImm, ub.out, ub.out, 0, mt, false, e.alpha);
      if (e.c.has_value()) {
        const uint64_t c_rows = e.c->row_stride == 0 ? 1 : mt;
        ctx.Load(isa::DType::F32, e.c->Offset(m0, n0), ub.c, c_rows, nt);
        if (e.beta != 1.0f) ctx.Vector(isa::VectorOp::MulImm, ub.c, ub.c, 0, c_rows, false, e.beta);
        ctx.Vector(isa::VectorOp::Add, ub.out, ub.out, ub.c, mt, /*b_bcast=*/c_rows == 1 && mt > 1);
      }
      ctx.Store(isa::DType::F32, g.y.Offset(m0, n0), ub.out, mt, nt);
    }
  }
}

}  // namespace tpusim::compiler::codegen
