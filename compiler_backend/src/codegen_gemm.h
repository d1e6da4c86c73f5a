// The GEMM kernel of codegen: Y[M,N] = epilogue(A[M,K] . B[K,N]) tiled to the systolic array, the
// accumulators and the unified buffer, with multi-pass bf16 precision. Used by MatMul and Gemm.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "codegen_context.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::compiler::codegen {

// bf16 parts each operand is split into: bf16 1, high 2, highest 3.
int NumBf16Parts(Precision p);
// The (A part, B part) products accumulated per k-tile, smallest terms first: bf16 {(0,0)};
// high {(1,0),(0,1),(0,0)}; highest {(2,0),(1,1),(0,2),(1,0),(0,1),(0,0)} (XLA's bf16_3x / bf16_6x).
std::vector<std::pair<int, int>> PrecisionPasses(Precision p);

struct GemmOperands {
  uint64_t m = 0, n = 0, k = 0;
  // fp32 A: element (m, k) via row_stride (per m) and lane_stride (per k); a transpose is a stride swap.
  DramView a;
  // Optional A row runs (a_keep > 0): row m of A (of `a` and of every k-tile's view) starts at element
  // (m / a_keep) * a_period + (m % a_keep) * row_stride from the view's address, so runs of a_keep rows
  // are linear and the runs a_period elements apart (a 1x1 conv with strides reads X without a copy:
  // one LOAD per output row). The A LOADs are cut at the runs.
  uint64_t a_period = 0, a_keep = 0;
  // B as NumBf16Parts(precision) bf16 tensors (b_dtype BF16), or in bf16 precision possibly one fp32
  // tensor (b_dtype F32, rounded on entry to the array). Element (k, n) via row_stride (per k) and
  // lane_stride (per n).
  std::vector<DramView> b_parts;
  isa::DType b_dtype = isa::DType::BF16;
  // fp32 Y: element (m, n) at y.addr + (m * y.row_stride + n * y.lane_stride) * 4.
  DramView y;
  // Optional row dropping (y_period > 0): only the m with m % y_period < y_keep are stored, row m going
  // to y's row (m / y_period) * y_keep + m % y_period (the shifted-GEMM conv's margin columns are never
  // written; its real outputs go straight to Y). The m-tiles' STOREs are cut at the dropped runs.
  uint64_t y_period = 0, y_keep = 0;
  // Optional explicit k-tiles, accumulated in this order (implicit-GEMM convolution: one per kernel
  // offset and channel block). K-tile j has rows[j] <= array_rows k indices; its A lanes are read
  // through a (element (m, r) of the tile) and its B rows through b_parts (element (r, n)), one view
  // per B part. Empty: k-tiles of array_rows consecutive k from `a` and `b_parts`. `k` must then be
  // the sum of the rows (the cost model reads it).
  struct KTile {
    uint64_t rows = 0;
    DramView a;
    std::vector<DramView> b_parts;
  };
  std::vector<KTile> k_tiles;
};

// Applied to each accumulator tile T (fp32) before Y is stored:
//   Y = alpha * func(T + bias) + beta * C        (c_then_func false)
//   Y = func((T + bias) + C)                      (c_then_func true: a fused residual Add + activation)
// func/bias run in ACTIVATE; alpha and C on the vector unit (func != None or bias set require
// alpha == 1 and no C, which the callers guarantee). With c_then_func, ACTIVATE adds only the bias, the
// vector unit adds C, then applies func as the VECTOR op of the same name (numerics.cc: the same
// function as the ACTIVATE one), so the result is bit-identical to Conv, Add and Relu run separately;
// it requires alpha == beta == 1.
struct GemmEpilogue {
  isa::ActFunc func = isa::ActFunc::None;
  std::optional<DramView> bias;  // fp32 row over n (lane_stride 1, row_stride unused)
  float alpha = 1.0f;
  std::optional<DramView> c;     // fp32 (m, n) with broadcast strides (0 on broadcast dims)
  float beta = 1.0f;
  bool c_then_func = false;
};
// The VECTOR op computing the same function as ACTIVATE's `func` (None, Relu, Sigmoid, Tanh), or
// nullopt for an activation the vector unit lacks.
std::optional<isa::VectorOp> VectorOpOfActivation(isa::ActFunc func);

// UB rows EmitGemm needs at least (one accumulator row per tile): fewer is ResourceExhausted upstream.
uint64_t GemmMinUbRows(Precision p);

// Tile sizes and buffer counts of one GEMM (codegen_gemm_plan.cc). A slot count of 2 is a ping-pong
// pair: tile t uses buffer t % 2, so tile t+1's DMA touches nothing tile t still uses.
struct GemmPlan {
  uint64_t mt = 0;        // m rows per tile (accumulator rows per output tile)
  uint64_t chunk = 0;     // k-tiles per A block
  bool resident = false;  // one A block per m-tile, reused by every n-tile
  uint64_t a_slots = 1, out_slots = 1, c_slots = 1, bias_slots = 1, acc_slots = 1;
  double estimated_cycles = 0;  // kTokens: the cost model's estimate (0 under kSerial)
  // Matrix units driven (codegen_gemm_emitter.h, "waves"): 1 is the single-unit schedule (every arch
  // with mxu_count 1, and kSerial). units > 1 (kTokens, mxu_count > 1): output tiles run in waves of
  // up to `units` tiles, one per unit, and each m-tile's rows are cut into m_split sub-tiles on
  // different units (> 1 only for GEMMs with fewer n-tiles than units). In that mode the slot counts
  // out/c/bias count wave buffers (each holds one tile per unit) and acc_slots is unused.
  uint64_t units = 1, m_split = 1;
};
// Cycles one DMA of `bytes` takes on `arch` (docs/timing.md rule 3): ceil(bytes / BW) + latency.
double GemmDmaCycles(const isa::ArchConfig& arch, double bytes);
// kSerial: the largest m-tile, then the largest A chunk, single buffers. kTokens: the m-tile and
// buffers that minimise the estimated run time on the target (cost model in codegen_gemm_plan.cc).
GemmPlan PlanGemm(const CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e);
// The UB buffers of a plan (kTokens) for m-tile `mt` (codegen_gemm_plan.cc): output and C slots of
// `out_rows` rows, bias slots of `bias_rows` rows, A chunks of k-tiles (each parts x mt rows). Sets
// mt, the slot counts, chunk and resident in `plan`; false if mt does not fit even with single buffers.
struct GemmBufferDims {
  uint64_t parts, k_tiles, has_bias, has_c, ub_rows;
};
bool DeriveGemmBuffers(const GemmBufferDims& d, uint64_t mt, uint64_t out_rows, uint64_t bias_rows, GemmPlan& plan);

// PlanGemm's kTokens choice for an arch with mxu_count > 1 (codegen_mxu_plan.cc): units = mxu_count,
// the m-tile, m_split and buffers that minimise the multi-unit cost model; units 1 if no wave fits.
GemmPlan PlanGemmUnits(const CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e);

// The shape of one wave of a multi-unit plan (units > 1) for a GEMM of n_tiles column tiles.
struct GemmWaveShape {
  uint64_t group = 1;  // n-tiles per wave (units / m_split, at most n_tiles)
  uint64_t tiles = 1;  // output tiles per wave = group * m_split <= units
  uint64_t sub = 1;    // rows of the largest sub-tile: ceil(mt / m_split)
};
GemmWaveShape WaveShapeOf(const GemmPlan& plan, uint64_t n_tiles);

void EmitGemm(CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e);

}  // namespace tpusim::compiler::codegen
