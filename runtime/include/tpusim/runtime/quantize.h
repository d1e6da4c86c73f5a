// Post-training int8 quantization of an fp32 graph (static activation ranges, per-channel weights).
//
// QuantizeGraph calibrates the fp32 graph on sample inputs (runs it on the CPU reference kernels and
// records, for the data input of every MatMul / Gemm with a constant 2-D weight, the min and max over
// all samples, widened to include 0), then rewrites each such node into
//   X -> QuantizeLinear(s_x, z_x) -> MatMulInteger(Xq, Wq, z_x) -> DequantizeLinear(s_x * s_w[n], axis -1)
//     [-> Add(beta * C) for a Gemm with a bias]
// where activations are asymmetric int8 (s_x = (max - min) / 255, z_x = round(-128 - min / s_x)) and
// weights symmetric int8 per output channel n (s_w[n] = max_k |alpha * W[k][n]| / 127, zero point 0,
// Wq = round_half_even(alpha * W / s_w) in [-127, 127]). The MatMulInteger accumulates exactly in int32;
// DequantizeLinear on its int32 output (zero point 0) applies both scales at once.
//
// Nodes that do not fit the pattern (weights not constant or not 2-D, Gemm with transA, a non-constant
// C) stay fp32 and are listed in the report with the reason. The input graph is not modified.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::runtime {

struct QuantizationReport {
  std::vector<std::string> quantized;  // node names rewritten
  std::vector<std::string> skipped;    // "node: reason"
  // Calibrated range of each quantized activation: value name -> {min, max} (after widening to 0).
  std::map<std::string, std::pair<float, float>> ranges;
};

// InvalidArgument if `samples` is empty or a sample does not feed the graph's inputs (the messages of
// Session::Run); the graph must run on the CPU reference kernels.
absl::StatusOr<compiler::Graph> QuantizeGraph(const compiler::Graph& graph,
                                              const std::vector<std::map<std::string, compiler::Tensor>>& samples,
                                              QuantizationReport* report = nullptr);

}  // namespace tpusim::runtime
