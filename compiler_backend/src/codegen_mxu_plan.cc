// GEMM planning for several matrix units (codegen_gemm.h: PlanGemmUnits, WaveShapeOf; the schedule is
// described in codegen_gemm_emitter.h).
//
// Candidates: m_split 1 (column tiles over the units) and, when the GEMM has fewer n-tiles than units,
// m_split = units / n-tiles (each n-tile's rows cut over several units, its weight tiles loaded once
// per unit); for each, every balanced m-tile Mt = ceil(M / t) that fits the accumulators (a wave's
// tiles hold tiles * ceil(Mt / m_split) rows) and the UB, with the A buffers DeriveUnitBuffers picks
// (resident and doubled > resident alone > chunks doubled > chunks alone). Estimated cycles,
// T(S) = X' + Lat for a DMA of S bytes (X' = ceil(S / BW)), the queues pipelined (a DMA holds its
// queue X' cycles and an entry of Q until it completes, docs/timing.md rules 1-3):
//   load queue  L = sum over LOAD_WEIGHTS, A LOADs, bias and C LOADs of max(X', T / Q);
//   compute     X = per wave: k-tiles x passes x t_step + R + C (the drain before the epilogue) + the
//                   epilogue's vector work of its tiles; t_step, the time a unit spends per step, is
//                   max(sub-tile rows, R (weight shift), (X'_w + Lat + R) / F (F tiles in flight per
//                   unit)); plus the A refills, drains and splits (see below);
//   store       S = sum over STOREs of max(X', T / Q);
//   DRAM        D = every byte moved / BW.
// Estimate: max(L, X, S, D) + 1% of L + S; near-ties (1%) go to fewer, larger tiles.
#include <algorithm>
#include <cmath>
#include <vector>

#include "codegen_gemm.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

struct UnitDims {
  uint64_t U, P, KT, NT, passes, has_c, has_bias, ub, acc;
};

// Buffers for m-tile `mt` (codegen_gemm_plan.cc's DeriveBuffers with wave buffers: out and C hold
// wave.tiles * wave.sub rows, bias wave.tiles rows). False if it does not fit with single buffers.
bool DeriveUnitBuffers(const UnitDims& d, uint64_t mt, uint64_t m_split, GemmPlan& plan) {
  plan = GemmPlan{};
  plan.mt = mt;
  plan.units = d.U;
  plan.m_split = m_split;
  const GemmWaveShape w = WaveShapeOf(plan, d.NT);
  const uint64_t wave_rows = w.tiles * w.sub;
  if (wave_rows > d.acc) return false;
  return DeriveGemmBuffers({d.P, d.KT, d.has_bias, d.has_c, d.ub}, mt, wave_rows, w.tiles, plan);
}

double EstimateUnitCycles(const CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e,
                          const UnitDims& d, const GemmPlan& plan) {
  const isa::ArchConfig& arch = ctx.arch();
  const double bw = std::max(1e-9, arch.dram_bandwidth_gbps() * 1000.0 / arch.clock_mhz());  // bytes/cycle
  const double lat = arch.dram_latency_cycles(), q = std::max<uint32_t>(1, arch.instruction_queue_depth());
  auto xfer = [&](double bytes) { return GemmDmaCycles(arch, bytes) - lat; };  // X'
  auto queued = [&](double bytes) { return std::max(xfer(bytes), (xfer(bytes) + lat) / q); };
  const double R = ctx.array_rows(), C = ctx.array_cols(), lanes = ctx.lanes();
  const double v = std::max<uint32_t>(1, arch.vector_lanes());
  const double fifo = std::max<uint32_t>(1, arch.weight_fifo_depth());
  auto vec = [&](double rows) { return std::ceil(rows * lanes / v); };

  const GemmWaveShape w = WaveShapeOf(plan, d.NT);
  const double m_tiles = static_cast<double>(CeilDiv(g.m, plan.mt));
  const double n_groups = static_cast<double>(CeilDiv(d.NT, w.group));
  const double mt = g.m / m_tiles, sub = mt / plan.m_split, nt = static_cast<double>(g.n) / d.NT;
  const double kr = static_cast<double>(g.k) / d.KT, KT = static_cast<double>(d.KT);
  const double waves = m_tiles * n_groups, tiles = m_tiles * d.NT * plan.m_split;
  const double steps = tiles * KT * d.passes;
  const double blocks = plan.resident ? m_tiles : waves * std::ceil(KT / plan.chunk);
  const double a_loads = plan.resident ? m_tiles * KT : waves * KT;
  const double b_bytes = g.b_dtype == isa::DType::BF16 ? kBf16Bytes : kF32Bytes;
  const double w_tile = kr * nt * b_bytes, a_tile = mt * kr * kF32Bytes;
  const double c_rows = e.c.has_value() && e.c->row_stride == 0 ? 1 : sub;

  const double in_bytes = tiles * (d.has_bias * nt + d.has_c * c_rows * nt) * kF32Bytes;
  const double out_bytes = static_cast<double>(g.m) * g.n * kF32Bytes;
  const double load_q = steps * queued(w_tile) + a_loads * queued(a_tile) +
                        tiles * (d.has_bias * queued(nt * kF32Bytes) + d.has_c * queued(c_rows * nt * kF32Bytes));
  const double store_q = tiles * queued(sub * nt * kF32Bytes);
  const double channel = (steps * w_tile + a_loads * a_tile + in_bytes + out_bytes) / bw;

  const double t_step = std::max({sub, R, (xfer(w_tile) + lat + R) / fifo});
  const double late_func = e.c_then_func && e.func != isa::ActFunc::None ? 1.0 : 0.0;
  const double epilogue = vec(sub) * (1 + (e.alpha != 1.0f) + 2 * d.has_c + late_func);
  // One resident A buffer and several m-tiles: the next m-tile's A is refilled after the last wave's
  // epilogue (PlaceLoads), where the k-tiles its look-ahead would have loaded earlier pile up ahead of
  // the weight loads: the next wave waits for them. Chunks with one buffer are refilled mid-wave, each
  // handing its buffer back through a drain.
  const double ahead = w.tiles * fifo + std::ceil((xfer(a_tile) + lat) * w.tiles / std::max(sub, R)) + 1;
  const double piled = std::min(KT, std::ceil(ahead / (w.tiles * d.passes)));
  const double refill = plan.resident && plan.a_slots == 1 ? (m_tiles - 1) * (piled * xfer(a_tile) + lat) : 0.0;
  const double drains = plan.a_slots == 2 || plan.resident ? blocks : a_loads;
  const double compute = waves * (KT * d.passes * t_step + R + C + w.tiles * epilogue) + drains * (R + C) +
                         refill + a_loads * 2 * static_cast<double>(d.P - 1) * vec(mt);
  // Not modelled: the first wave's wait for its inputs and the last wave's exposed epilogue and STOREs
  // (a fill/tail term of that size chose smaller waves and cost ResNet-50 2% on tpu-v4).
  return std::max({load_q, compute, store_q, channel}) + 0.01 * (load_q + store_q);
}

}  // namespace

GemmWaveShape WaveShapeOf(const GemmPlan& plan, uint64_t n_tiles) {
  GemmWaveShape w;
  const uint64_t split = std::max<uint64_t>(1, plan.m_split);
  w.group = std::max<uint64_t>(1, std::min(n_tiles, plan.units / split));
  w.tiles = w.group * split;
  w.sub = CeilDiv(std::max<uint64_t>(1, plan.mt), split);
  return w;
}

GemmPlan PlanGemmUnits(const CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e) {
  const UnitDims d{ctx.arch().mxu_count(),
                   static_cast<uint64_t>(NumBf16Parts(ctx.precision())),
                   g.k_tiles.empty() ? CeilDiv(g.k, ctx.array_rows()) : g.k_tiles.size(),
                   CeilDiv(g.n, ctx.array_cols()),
                   PrecisionPasses(ctx.precision()).size(),
                   e.c.has_value() ? 1u : 0u,
                   e.bias.has_value() ? 1u : 0u,
                   ctx.ub_rows(),
                   std::max<uint64_t>(1, ctx.arch().accumulator_entries())};
  TPUSIM_CHECK(d.U > 1, "PlanGemmUnits: one matrix unit");
  std::vector<uint64_t> splits = {1};
  if (d.NT < d.U && d.U / d.NT > 1) splits.push_back(d.U / d.NT);
  GemmPlan best;
  bool found = false;
  for (uint64_t split : splits) {
    // The largest m-tile whose wave fits the accumulators.
    GemmPlan probe;
    probe.units = d.U;
    probe.m_split = split;
    const uint64_t wave_tiles = WaveShapeOf(probe, d.NT).tiles;
    const uint64_t acc_mt = (d.acc / wave_tiles) * split;
    const uint64_t mt_max = std::min<uint64_t>({g.m, acc_mt, kMaxInstRows});
    if (mt_max < split) continue;  // sub-tiles of no rows
    const uint64_t t_min = CeilDiv(g.m, mt_max);
    uint64_t last_mt = 0;
    for (uint64_t t = t_min; t <= std::min(g.m, 64 * t_min); ++t) {
      const uint64_t mt = CeilDiv(g.m, t);
      if (mt == last_mt || mt < split) continue;
      last_mt = mt;
      GemmPlan plan;
      if (!DeriveUnitBuffers(d, mt, split, plan)) continue;
      plan.estimated_cycles = EstimateUnitCycles(ctx, g, e, d, plan);
      if (!found || plan.estimated_cycles < 0.99 * best.estimated_cycles) best = plan, found = true;
    }
  }
  return found ? best : GemmPlan{};  // units 1: no wave fits (PlanGemm plans for one unit then)
}

}  // namespace tpusim::compiler::codegen
