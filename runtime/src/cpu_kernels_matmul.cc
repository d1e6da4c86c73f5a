// MatMul (numpy semantics) and Gemm: the fp32 reference matrix products, on Eigen.
#include <Eigen/Core>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor>;
using MutMap = Eigen::Map<RowMajor>;

absl::Status CheckFloat(const Node& node, const std::vector<KernelInputInfo>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].present && inputs[i].dtype != DataType::kFloat32) {
      return KernelError(node, absl::StrCat("input ", i, " has dtype ", std::string(compiler::DataTypeName(inputs[i].dtype)),
                                            "; the CPU kernel supports float32 only"));
    }
  }
  return absl::OkStatus();
}

// The operands of a numpy matmul viewed as batches of 2-D matrices.
struct MatMulPlan {
  Shape a2, b2;           // operand shapes after promoting 1-D operands to 2-D
  Shape batch;            // broadcast batch dims
  int64_t m = 0, k = 0, n = 0;
  Shape out;              // the ONNX output shape (promoted dims removed)
};

absl::StatusOr<MatMulPlan> PlanMatMul(const Node& node, const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) {
    return KernelError(node, absl::StrCat("operands must have rank >= 1, got ", compiler::ShapeToString(a),
                                          " x ", compiler::ShapeToString(b)));
  }
  MatMulPlan plan;
  plan.a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  plan.b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  plan.m = plan.a2[plan.a2.size() - 2];
  plan.k = plan.a2.back();
  plan.n = plan.b2.back();
  if (plan.b2[plan.b2.size() - 2] != plan.k) {
    return KernelError(node, absl::StrCat("inner dimensions differ: ", compiler::ShapeToString(a), " x ",
                                          compiler::ShapeToString(b)));
  }
  const Shape a_batch(plan.a2.begin(), plan.a2.end() - 2);
  const Shape b_batch(plan.b2.begin(), plan.b2.end() - 2);
  TPUSIM_ASSIGN_OR_RETURN(plan.batch, BroadcastShapes(node, a_batch, b_batch));
  plan.out = plan.batch;
  if (a.size() != 1) plan.out.push_back(plan.m);
  if (b.size() != 1) plan.out.push_back(plan.n);
  return plan;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferMatMul(const Node& node,
                                                          const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 2));
  TPUSIM_RETURN_IF_ERROR(CheckFloat(node, in));
  TPUSIM_ASSIGN_OR_RETURN(MatMulPlan plan, PlanMatMul(node, in[0].shape, in[1].shape));
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, plan.out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeMatMul(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(InferMatMul(node, InfosOf(in)).status());
  TPUSIM_ASSIGN_OR_RETURN(MatMulPlan plan, PlanMatMul(node, in[0]->shape(), in[1]->shape()));
  Tensor out(DataType::kFloat32, plan.out);
  const Shape a_batch(plan.a2.begin(), plan.a2.end() - 2);
  const Shape b_batch(plan.b2.begin(), plan.b2.end() - 2);
  // Batch strides in matrices; multiplied by the matrix size below.
  const std::vector<int64_t> a_strides = BroadcastStrides(a_batch, plan.batch);
  const std::vector<int64_t> b_strides = BroadcastStrides(b_batch, plan.batch);
  const int64_t batches = compiler::NumElements(plan.batch);
  std::vector<int64_t> index(plan.batch.size(), 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t a_off = 0, b_off = 0;
    for (size_t d = 0; d < index.size(); ++d) {
      a_off += index[d] * a_strides[d];
      b_off += index[d] * b_strides[d];
    }
    ConstMap a(in[0]->as<float>() + a_off * plan.m * plan.k, plan.m, plan.k);
    ConstMap b(in[1]->as<float>() + b_off * plan.k * plan.n, plan.k, plan.n);
    MutMap c(out.as<float>() + bi * plan.m * plan.n, plan.m, plan.n);
    c.noalias() = a * b;
    for (int d = static_cast<int>(index.size()) - 1; d >= 0; --d) {
      if (++index[d] < plan.batch[d]) break;
      index[d] = 0;
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

struct GemmPlan {
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1, beta = 1;
};

absl::StatusOr<GemmPlan> PlanGemm(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 3));
  TPUSIM_RETURN_IF_ERROR(CheckFloat(node, in));
  GemmPlan plan;
  TPUSIM_ASSIGN_OR_RETURN(int64_t trans_a, node.GetInt("transA", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t trans_b, node.GetInt("transB", 0));
  TPUSIM_ASSIGN_OR_RETURN(plan.alpha, node.GetFloat("alpha", 1.0f));
  TPUSIM_ASSIGN_OR_RETURN(plan.beta, node.GetFloat("beta", 1.0f));
  plan.trans_a = trans_a != 0;
  plan.trans_b = trans_b != 0;
  const Shape& a = in[0].shape;
  const Shape& b = in[1].shape;
  if (a.size() != 2 || b.size() != 2) {
    return KernelError(node, absl::StrCat("A and B must be 2-D, got ", compiler::ShapeToString(a), " and ",
                                          compiler::ShapeToString(b)));
  }
  plan.m = plan.trans_a ? a[1] : a[0];
  plan.k = plan.trans_a ? a[0] : a[1];
  const int64_t kb = plan.trans_b ? b[1] : b[0];
  plan.n = plan.trans_b ? b[0] : b[1];
  if (kb != plan.k) {
    return KernelError(node, absl::StrCat("inner dimensions differ: A ", compiler::ShapeToString(a), " (transA=",
                                          trans_a, ") x B ", compiler::ShapeToString(b), " (transB=", trans_b, ")"));
  }
  if (in.size() == 3 && in[2].present) {
    const Shape& c = in[2].shape;
    const Shape mn{plan.m, plan.n};
    bool ok = c.size() <= 2;
    for (size_t i = 0; ok && i < c.size(); ++i) {
      const int64_t target = mn[2 - c.size() + i];
      ok = c[i] == target || c[i] == 1;
    }
    if (!ok) {
      return KernelError(node, absl::StrCat("C ", compiler::ShapeToString(c), " cannot be broadcast to ",
                                            compiler::ShapeToString(mn)));
    }
  }
  return plan;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferGemm(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(GemmPlan plan, PlanGemm(node, in));
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, Shape{plan.m, plan.n}}};
}

absl::StatusOr<std::vector<Tensor>> ComputeGemm(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(GemmPlan plan, PlanGemm(node, InfosOf(in)));
  Tensor out(DataType::kFloat32, Shape{plan.m, plan.n});
  MutMap y(out.as<float>(), plan.m, plan.n);
  ConstMap a(in[0]->as<float>(), in[0]->shape()[0], in[0]->shape()[1]);
  ConstMap b(in[1]->as<float>(), in[1]->shape()[0], in[1]->shape()[1]);
  if (plan.trans_a && plan.trans_b) {
    y.noalias() = a.transpose() * b.transpose();
  } else if (plan.trans_a) {
    y.noalias() = a.transpose() * b;
  } else if (plan.trans_b) {
    y.noalias() = a * b.transpose();
  } else {
    y.noalias() = a * b;
  }
  if (plan.alpha != 1.0f) y *= plan.alpha;
  if (in.size() == 3 && in[2] != nullptr) {
    const Tensor& c = *in[2];
    const Shape& cs = c.shape();
    // Unidirectional broadcast of C to [M, N]: a missing or size-1 dim repeats.
    const int64_t c_rows = cs.size() == 2 ? cs[0] : 1;
    const int64_t c_cols = cs.empty() ? 1 : cs.back();
    const float* cp = c.as<float>();
    for (int64_t i = 0; i < plan.m; ++i) {
      for (int64_t j = 0; j < plan.n; ++j) {
        const float cv = cp[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
        y(i, j) += plan.beta * cv;
      }
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

}  // namespace

void AppendMatMulKernels(std::vector<CpuKernel>& out) {
  out.push_back({"MatMul", InferMatMul, ComputeMatMul});
  out.push_back({"Gemm", InferGemm, ComputeGemm});
}

}  // namespace tpusim::runtime::detail
