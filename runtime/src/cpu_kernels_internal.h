// Private helpers shared by the CPU kernel files (cpu_kernels_*.cc). Not a public header.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tpusim/runtime/cpu_kernels.h"

namespace tpusim::runtime::detail {

using compiler::DataType;
using compiler::Node;
using compiler::Shape;
using compiler::Tensor;

// "MatMul (node 'fc1')": the prefix of every kernel error.
std::string Where(const Node& node);
absl::Status KernelError(const Node& node, absl::string_view message);  // InvalidArgument

// Checks the input count is in [min, max] and that the first `min` are present.
absl::Status CheckArity(const Node& node, const std::vector<KernelInputInfo>& in, size_t min, size_t max);
// Axis in [-rank, rank) (or [-rank, rank] when `allow_rank`) -> [0, rank).
absl::StatusOr<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank, bool allow_rank = false);

// Row-major strides of a shape (elements).
std::vector<int64_t> Strides(const Shape& shape);
// Multidirectional (numpy) broadcast of two shapes; InvalidArgument naming both when incompatible.
absl::StatusOr<Shape> BroadcastShapes(const Node& node, const Shape& a, const Shape& b);
// Strides of `in` when broadcast to `out` (0 along broadcast dims), aligned to out's rank.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out);

// Input infos for kernels called from compute(): every present tensor's dtype/shape, and the value.
std::vector<KernelInputInfo> InfosOf(const std::vector<const Tensor*>& inputs);

// Kernel tables, one per file; cpu_kernels.cc concatenates them.
void AppendMatMulKernels(std::vector<CpuKernel>& out);
void AppendElementwiseKernels(std::vector<CpuKernel>& out);
void AppendShapeKernels(std::vector<CpuKernel>& out);
void AppendReduceKernels(std::vector<CpuKernel>& out);
void AppendUnaryKernels(std::vector<CpuKernel>& out);
void AppendSliceKernels(std::vector<CpuKernel>& out);
void AppendConvKernels(std::vector<CpuKernel>& out);  // cpu_kernels_conv.cc: Conv, BatchNormalization, Pad
void AppendQuantKernels(std::vector<CpuKernel>& out);  // cpu_kernels_quant.cc
void AppendQuantConvKernels(std::vector<CpuKernel>& out);  // cpu_kernels_quant_conv.cc: ConvInteger, QLinearConv
void AppendPoolKernels(std::vector<CpuKernel>& out);  // cpu_kernels_pool.cc: MaxPool, AveragePool, Global*Pool
void AppendMiscKernels(std::vector<CpuKernel>& out);  // cpu_kernels_misc.cc: Split, Gather, PRelu, LayerNormalization
void AppendRnnKernels(std::vector<CpuKernel>& out);  // cpu_kernels_rnn.cc: LSTM, GRU, RNN
// cpu_kernels_norm_training.cc: BatchNormalization with training_mode=1 (the BatchNormalization
// kernel of cpu_kernels_conv.cc forwards such nodes here).
bool IsTrainingBatchNorm(const Node& node);
absl::StatusOr<std::vector<KernelOutputInfo>> InferBatchNormTraining(const Node& node,
                                                                     const std::vector<KernelInputInfo>& in);
absl::StatusOr<std::vector<Tensor>> ComputeBatchNormTraining(const Node& node, const std::vector<const Tensor*>& in);

// BatchNormalization's input checks, both modes (cpu_kernels_conv.cc): five inputs, all float32, X of
// rank >= 2, scale, B, mean and var with X's C values each.
absl::Status CheckBatchNormInputs(const Node& node, const std::vector<KernelInputInfo>& in);

// cpu_kernels_conv_geometry.cc: the geometry of an N-d convolution (Conv, ConvInteger, QLinearConv).
// X is [n, c, in...], W [m, c/group, kernel...]; per spatial dim the stride, dilation, leading pad
// (auto_pad resolved) and output extent.
struct ConvGeometry {
  int64_t n = 0, c = 0, m = 0, group = 1;
  std::vector<int64_t> in, kernel, stride, dil, pad_lo, out;
};
// From X's and W's shapes and the node's group, kernel_shape, strides, dilations, pads and auto_pad;
// InvalidArgument naming the node when they do not fit together.
absl::StatusOr<ConvGeometry> PlanConvGeometry(const Node& node, const Shape& x, const Shape& w);

// Row-major index tables of a ConvGeometry's spatial extents (one channel plane). Holds a reference
// to the geometry, which must outlive it.
struct ConvIndex {
  explicit ConvIndex(const ConvGeometry& geometry);
  // Offset within an input plane of output position o's kernel tap kk; -1 where the tap is padding.
  int64_t InputOffset(int64_t o, int64_t kk) const;

  const ConvGeometry& g;
  std::vector<int64_t> in_strides, out_strides, k_strides;
  int64_t in_size = 1, out_size = 1, k_size = 1;  // elements of one input plane, output plane, kernel
};

}  // namespace tpusim::runtime::detail
