// The CPU reference kernel of BatchNormalization in training mode (opset >= 14, training_mode=1; called
// by cpu_kernels_conv.cc's BatchNormalization kernel for such nodes).
//
// Training-mode BatchNormalization, ONNX opset 15 semantics, X [N, C, D1, ...], per channel c over the
// N * D1 * ... elements (sums in double, results rounded once to float32):
//   mean_c = sum(x) / count,  var_c = sum((x - mean_c)^2) / count   (population variance)
//   Y = (x - mean_c) / sqrt(var_c + epsilon) * scale_c + B_c
//   running_mean = input_mean * momentum + mean * (1 - momentum)   (momentum default 0.9)
//   running_var  = input_var * momentum + var * (1 - momentum)
#include <cmath>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

absl::Status CheckTraining(const Node& node, const std::vector<KernelInputInfo>& in) {
  if (node.opset < 14) {
    return absl::UnimplementedError(absl::StrCat(Where(node), ": training mode before opset 14 is not supported"));
  }
  if (node.outputs.size() > 3) return KernelError(node, "training mode has at most 3 outputs from opset 14");
  TPUSIM_RETURN_IF_ERROR(CheckBatchNormInputs(node, in));  // cpu_kernels_conv.cc
  TPUSIM_RETURN_IF_ERROR(node.GetFloat("epsilon", 1e-5f).status());
  return node.GetFloat("momentum", 0.9f).status();
}

}  // namespace

bool IsTrainingBatchNorm(const Node& node) {
  absl::StatusOr<int64_t> t = node.GetInt("training_mode", 0);
  return node.op_type == "BatchNormalization" && t.ok() && *t != 0;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferBatchNormTraining(const Node& node,
                                                                     const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckTraining(node, in));
  std::vector<KernelOutputInfo> out = {{DataType::kFloat32, in[0].shape}};
  while (out.size() < node.outputs.size()) out.push_back({DataType::kFloat32, Shape{in[0].shape[1]}});
  return out;
}

absl::StatusOr<std::vector<Tensor>> ComputeBatchNormTraining(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckTraining(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(float eps, node.GetFloat("epsilon", 1e-5f));
  TPUSIM_ASSIGN_OR_RETURN(float momentum, node.GetFloat("momentum", 0.9f));
  const Shape& s = in[0]->shape();
  const int64_t batch = s[0], chans = s[1];
  int64_t plane = 1;
  for (size_t d = 2; d < s.size(); ++d) plane *= s[d];
  const double count = static_cast<double>(batch * plane);
  const float *x = in[0]->as<float>(), *scale = in[1]->as<float>(), *b = in[2]->as<float>();
  const float *in_mean = in[3]->as<float>(), *in_var = in[4]->as<float>();
  Tensor y(DataType::kFloat32, s), rmean(DataType::kFloat32, Shape{chans}), rvar(DataType::kFloat32, Shape{chans});
  for (int64_t c = 0; c < chans; ++c) {
    double sum = 0.0;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t i = 0; i < plane; ++i) sum += x[(n * chans + c) * plane + i];
    }
    const double mean = sum / count;
    double sq = 0.0;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t i = 0; i < plane; ++i) {
        const double d = x[(n * chans + c) * plane + i] - mean;
        sq += d * d;
      }
    }
    const double var = sq / count;
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t at = (n * chans + c) * plane + i;
        y.as<float>()[at] = static_cast<float>((x[at] - mean) * inv * scale[c] + b[c]);
      }
    }
    rmean.as<float>()[c] = static_cast<float>(in_mean[c] * static_cast<double>(momentum) + mean * (1.0 - momentum));
    rvar.as<float>()[c] = static_cast<float>(in_var[c] * static_cast<double>(momentum) + var * (1.0 - momentum));
  }
  std::vector<Tensor> out;
  out.push_back(std::move(y));
  if (node.outputs.size() > 1) out.push_back(std::move(rmean));
  if (node.outputs.size() > 2) out.push_back(std::move(rvar));
  return out;
}

}  // namespace tpusim::runtime::detail
