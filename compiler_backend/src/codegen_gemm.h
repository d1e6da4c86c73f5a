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
  // B as NumBf16Parts(precision) bf16 tensors (b_dtype BF16), or in bf16 precision possibly one fp32
  // tensor (b_dtype F32, rounded on entry to the array). Element (k, n) via row_stride (per k) and
  // lane_stride (per n).
  std::vector<DramView> b_parts;
  isa::DType b_dtype = isa::DType::BF16;
  // fp32 Y: element (m, n) at y.addr + (m * y.row_stride + n) * 4.
  DramView y;
};

// Applied to each accumulator tile T (fp32) before Y is stored:
//   Y = alpha * func(T + bias) + beta * C
// func/bias run in ACTIVATE; alpha and C on the vector unit (func != None or bias set require
// alpha == 1 and no C, which the callers guarantee).
struct GemmEpilogue {
  isa::ActFunc func = isa::ActFunc::None;
  std::optional<DramView> bias;  // fp32 row over n (lane_stride 1, row_stride unused)
  float alpha = 1.0f;
  std::optional<DramView> c;     // fp32 (m, n) with broadcast strides (0 on broadcast dims)
  float beta = 1.0f;
};

// UB rows EmitGemm needs at least (one accumulator row per tile): fewer is ResourceExhausted upstream.
uint64_t GemmMinUbRows(Precision p);

void EmitGemm(CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e);

}  // namespace tpusim::compiler::codegen
