// GEMM tile planning (codegen_gemm.h: GemmPlan, PlanGemm).
//
// kTokens picks the m-tile by a cost model of the decoupled queues (docs/timing.md), evaluated for
// every balanced m-tile size (Mt = ceil(M / t) for t tiles) that fits. In cycles, with
// T(S) = ceil(S / BW) + Lat for a DMA of S bytes:
//   load queue  L = sum of T over every LOAD_WEIGHTS (one per k-tile, pass and output tile), A LOAD
//                   (one per k-tile and block), bias and C LOAD;
//   compute     X = MATMUL rows (Mt per k-tile, pass and output tile) + per output tile the array's
//                   fill (R + C) and the epilogue's vector work + the A split's vector work + a fill
//                   per drain for handing an A buffer back to the load queue;
//   store       S = sum of T over the output STOREs;
//   DRAM        D = every byte moved / BW (one shared channel).
// Queues overlap (tokens, double buffers, weights F tiles ahead), so the estimate is
// max(L, X, S, D) + 1% of L + S (slack against imperfect overlap). Larger Mt reuses each weight tile
// for more rows; smaller Mt can make A resident (loaded once per m-tile, not once per output tile).
#include <algorithm>
#include <cmath>

#include "codegen_gemm.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

struct Dims {
  uint64_t P, KT, passes, has_c, has_bias, ub, acc;
};

Dims DimsOf(const CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e) {
  return {static_cast<uint64_t>(NumBf16Parts(ctx.precision())),
          g.k_tiles.empty() ? CeilDiv(g.k, ctx.array_rows()) : g.k_tiles.size(),
          PrecisionPasses(ctx.precision()).size(),
          e.c.has_value() ? 1u : 0u,
          e.bias.has_value() ? 1u : 0u,
          ctx.ub_rows(),
          std::max<uint64_t>(1, ctx.arch().accumulator_entries())};
}

// kTokens buffers for m-tile `mt` on one unit (DeriveGemmBuffers), plus double accumulators when they fit.
bool DeriveBuffers(const Dims& d, uint64_t mt, GemmPlan& plan) {
  plan = GemmPlan{};
  if (!DeriveGemmBuffers({d.P, d.KT, d.has_bias, d.has_c, d.ub}, mt, mt, 1, plan)) return false;
  plan.acc_slots = 2 * mt <= d.acc ? 2 : 1;
  return true;
}

}  // namespace

double GemmDmaCycles(const isa::ArchConfig& arch, double bytes) {
  const double bw = std::max(1e-9, arch.dram_bandwidth_gbps() * 1000.0 / arch.clock_mhz());  // bytes/cycle
  return std::ceil(bytes / bw) + arch.dram_latency_cycles();
}

// Keep mt and double what the UB still allows, output first, always leaving room for a one-k-tile A
// chunk. A: part 0 is what the load queue writes, so only it needs a second buffer. Resident and
// doubled (the next m-tile prefetched whole) > resident alone (refilled k-tile by k-tile as the last
// n-tile releases it) > chunks doubled > chunks alone (refilled likewise).
bool DeriveGemmBuffers(const GemmBufferDims& d, uint64_t mt, uint64_t out_rows, uint64_t bias_rows, GemmPlan& plan) {
  plan.mt = mt;
  auto a_budget = [&] {
    const uint64_t used = d.has_bias * plan.bias_slots * bias_rows + out_rows * (plan.out_slots + d.has_c * plan.c_slots);
    return used >= d.ub_rows ? 0 : d.ub_rows - used;
  };
  if (a_budget() < d.parts * mt) return false;
  for (uint64_t* slots : {&plan.out_slots, &plan.bias_slots, &plan.c_slots}) {
    *slots = 2;
    if (a_budget() < d.parts * mt) *slots = 1;
  }
  const uint64_t one = std::min(d.k_tiles, a_budget() / (d.parts * mt));
  const uint64_t two = std::min(d.k_tiles, a_budget() / ((d.parts + 1) * mt));
  plan.a_slots = two == d.k_tiles || (one < d.k_tiles && two >= 1) ? 2 : 1;
  plan.chunk = std::min(plan.a_slots == 2 ? two : one, kMaxInstRows / mt);
  if (plan.chunk == 0) return false;
  plan.chunk = CeilDiv(d.k_tiles, CeilDiv(d.k_tiles, plan.chunk));  // equal chunks
  plan.resident = plan.chunk == d.k_tiles;
  return true;
}

namespace {

double EstimateCycles(const CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e, const Dims& d,
                      const GemmPlan& plan) {
  const isa::ArchConfig& arch = ctx.arch();
  const double bw = std::max(1e-9, arch.dram_bandwidth_gbps() * 1000.0 / arch.clock_mhz());  // bytes/cycle
  auto dma = [&](double bytes) { return GemmDmaCycles(arch, bytes); };
  const double R = ctx.array_rows(), C = ctx.array_cols(), lanes = ctx.lanes();
  const double v = std::max<uint32_t>(1, arch.vector_lanes());
  auto vec = [&](double rows) { return std::ceil(rows * lanes / v); };

  const double m_tiles = static_cast<double>(CeilDiv(g.m, plan.mt)), n_tiles = std::ceil(g.n / C);
  const double mt = g.m / m_tiles, nt = g.n / n_tiles, kr = static_cast<double>(g.k) / d.KT;
  const double tiles = m_tiles * n_tiles, steps = tiles * d.KT * d.passes;
  const double a_loads = plan.resident ? m_tiles * d.KT : tiles * d.KT;
  const double b_bytes = g.b_dtype == isa::DType::BF16 ? kBf16Bytes : kF32Bytes;
  const double c_rows = e.c.has_value() && e.c->row_stride == 0 ? 1 : mt;

  const double w_bytes = steps * kr * nt * b_bytes, a_bytes = a_loads * mt * kr * kF32Bytes;
  const double in_bytes = tiles * (d.has_bias * nt + d.has_c * c_rows * nt) * kF32Bytes;
  const double out_bytes = tiles * mt * nt * kF32Bytes;
  const double load_q = steps * dma(kr * nt * b_bytes) + a_loads * dma(mt * kr * kF32Bytes) +
                        tiles * (d.has_bias * dma(nt * kF32Bytes) + d.has_c * dma(c_rows * nt * kF32Bytes));
  const double late_func = e.c_then_func && e.func != isa::ActFunc::None ? 1.0 : 0.0;
  const double epilogue = vec(mt) * (1 + (e.alpha != 1.0f) + 2 * d.has_c + late_func);
  // One A buffer and several m-tiles: the next m-tile's A is refilled during the last n-tile, where
  // the load queue must fit its A loads besides the weight loads.
  const double refill_burst = plan.resident && plan.a_slots == 1
                                  ? (m_tiles - 1) * std::max(0.0, d.KT * (dma(mt * kr * kF32Bytes) +
                                                                          d.passes * (dma(kr * nt * b_bytes) - mt)))
                                  : 0.0;
  // Each A buffer handed back to the load queue between two MATMULs drains the array (a SIGNAL on
  // the compute queue, schedule_tokens.h): once per block with two buffers, once per k-tile with one.
  const double blocks = plan.resident ? m_tiles : tiles * std::ceil(static_cast<double>(d.KT) / plan.chunk);
  const double drains = plan.a_slots == 2 ? blocks : a_loads;
  const double compute = steps * mt + tiles * (R + C + epilogue) + drains * (R + C) + refill_burst +
                         a_loads * 2 * static_cast<double>(d.P - 1) * vec(mt);
  const double store_q = tiles * dma(mt * nt * kF32Bytes);
  const double channel = (w_bytes + a_bytes + in_bytes + out_bytes) / bw;
  return std::max({load_q, compute, store_q, channel}) + 0.01 * (load_q + store_q);
}

}  // namespace

GemmPlan PlanGemm(const CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e) {
  const Dims d = DimsOf(ctx, g, e);
  TPUSIM_CHECK(d.ub >= GemmMinUbRows(ctx.precision()), "EmitGemm: UB too small (checked upstream)");
  // The largest m-tile with single buffers (weight reuse), then the largest A chunk.
  const uint64_t mt_max = std::min<uint64_t>({g.m, d.acc, kMaxInstRows, (d.ub - d.has_bias) / (d.P + 1 + d.has_c)});
  TPUSIM_CHECK(mt_max >= 1, "EmitGemm: tile sizing");
  if (!ctx.overlapped()) {
    GemmPlan plan;
    plan.mt = mt_max;
    plan.chunk = std::min({d.KT, (d.ub - d.has_bias - mt_max * (1 + d.has_c)) / (d.P * mt_max), kMaxInstRows / mt_max});
    TPUSIM_CHECK(plan.chunk >= 1, "EmitGemm: tile sizing");
    plan.resident = plan.chunk == d.KT;
    return plan;
  }
  if (ctx.arch().mxu_count() > 1) {  // several matrix units (codegen_mxu_plan.cc), unless no wave fits
    GemmPlan units = PlanGemmUnits(ctx, g, e);
    if (units.units > 1) return units;
  }
  // Balanced m-tiles: t tiles of ceil(M / t) rows, from the fewest tiles up. Beyond 64x the fewest
  // the weight traffic alone outweighs any A saving.
  const uint64_t t_min = CeilDiv(g.m, mt_max);
  GemmPlan best;
  bool found = false;
  uint64_t last_mt = 0;
  for (uint64_t t = t_min; t <= std::min(g.m, 64 * t_min); ++t) {
    const uint64_t mt = CeilDiv(g.m, t);
    if (mt == last_mt) continue;
    last_mt = mt;
    GemmPlan plan;
    if (!DeriveBuffers(d, mt, plan)) continue;
    plan.estimated_cycles = EstimateCycles(ctx, g, e, d, plan);
    // Near-ties (within the model's ~1% error) go to the fewer, larger tiles: less weight traffic.
    if (!found || plan.estimated_cycles < 0.99 * best.estimated_cycles) best = plan, found = true;
  }
  TPUSIM_CHECK(found, "EmitGemm: no m-tile fits (mt_max fits by construction)");
  return best;
}

}  // namespace tpusim::compiler::codegen
