// BatchNormalization and Pad on the TPU, and the BatchNormalization folding pass (lower_conv.h).
//
// BatchNormalization (inference form) is the per-channel affine map y = x * a[c] + b[c], with a and b
// computed at compile time (detail::BatchNormAffine): one mul_imm and one add_imm per element on the
// vector unit, streamed as full UB rows per (n, c) plane when a plane fills at least one UB row, else
// one block per channel whose rows are the batch indices. Where a Conv or Gemm/MatMul with constant
// weights produces its input alone, FoldBatchNorms rewrites the weights (W'[co] = W[co] * a[co]) and the
// bias (B' = B * a + b) before codegen, so the normalization costs nothing at run time.
//
// Pad (constant mode): a fill of the output with the pad value (only when something is added), then one
// strided copy (codegen_copy.h) of the part of X that survives (negative pads crop).
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "codegen_vector.h"
#include "lower_conv.h"
#include "lowering.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace codegen {

absl::Status PlanDataInput(const Node& node, CodegenContext& ctx) {
  if (node.inputs.empty() || node.inputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs a data input"));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[0]));
  return ctx.F32Region(node.inputs[0]).status();
}

absl::Status EmitBatchNormNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Shape& x = *io.in_shape;
  if (x.size() < 2 || *io.out_shape != x) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": X ", ShapeToString(x), " and Y ",
                                                   ShapeToString(*io.out_shape), " must be equal, rank >= 2"));
  }
  TPUSIM_ASSIGN_OR_RETURN(detail::ChannelAffine affine, detail::BatchNormAffine(node, ctx.graph(), x[1]));
  const uint64_t batch = static_cast<uint64_t>(x[0]), chans = static_cast<uint64_t>(x[1]);
  uint64_t plane = 1;
  for (size_t d = 2; d < x.size(); ++d) plane *= static_cast<uint64_t>(x[d]);
  if (batch * chans * plane == 0) return absl::OkStatus();
  for (uint64_t c = 0; c < chans; ++c) {
    const std::vector<VectorStep> then = {{isa::VectorOp::AddImm, affine.b[c]}};
    if (plane >= ctx.lanes()) {
      for (uint64_t n = 0; n < batch; ++n) {
        const uint64_t off = (n * chans + c) * plane * kF32Bytes;
        EmitFlat(ctx, isa::VectorOp::MulImm, {FlatOperand{io.in + off, false}}, io.out + off, plane, affine.a[c], then);
      }
      continue;
    }
    VectorBlock block;
    block.op = isa::VectorOp::MulImm;
    block.imm = affine.a[c];
    block.then = then;
    block.in = {DramView{io.in + c * plane * kF32Bytes, chans * plane, 1}};
    block.out = DramView{io.out + c * plane * kF32Bytes, chans * plane, 1};
    block.rows = batch;
    block.lanes = plane;
    EmitVectorBlock(ctx, block);
  }
  return absl::OkStatus();
}

absl::Status EmitPadNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Shape& x = *io.in_shape;
  TPUSIM_ASSIGN_OR_RETURN(detail::PadSpec spec, detail::ResolvePad(node, x, ctx.graph()));
  if (spec.mode != "constant") {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": mode '", spec.mode,
                                                 "' is not supported on the TPU (constant only)"));
  }
  if (spec.out != *io.out_shape) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": padded shape ", ShapeToString(spec.out),
                                                   " is not the output's ", ShapeToString(*io.out_shape)));
  }
  const uint64_t total = static_cast<uint64_t>(NumElements(spec.out));
  bool grows = false;
  for (size_t d = 0; d < x.size(); ++d) grows = grows || spec.begin[d] > 0 || spec.end[d] > 0;
  if (grows) EmitFill(ctx, io.out, total, spec.value);
  const std::vector<uint64_t> in_strides = RowMajorStrides(x), out_strides = RowMajorStrides(spec.out);
  uint64_t src = 0, dst = 0;
  std::vector<CopyDim> dims;
  for (size_t d = 0; d < x.size(); ++d) {
    const int64_t crop_lo = std::max<int64_t>(0, -spec.begin[d]), crop_hi = std::max<int64_t>(0, -spec.end[d]);
    const int64_t count = x[d] - crop_lo - crop_hi;
    if (count <= 0) return absl::OkStatus();  // nothing of X survives
    src += static_cast<uint64_t>(crop_lo) * in_strides[d];
    dst += static_cast<uint64_t>(std::max<int64_t>(0, spec.begin[d])) * out_strides[d];
    dims.push_back({static_cast<uint64_t>(count), static_cast<int64_t>(in_strides[d]), out_strides[d]});
  }
  if (total == 0) return absl::OkStatus();
  EmitStridedCopy(ctx, io.in + src * kF32Bytes, io.out + dst * kF32Bytes, dims);
  return absl::OkStatus();
}

}  // namespace codegen

namespace detail {
namespace {

const Tensor* FloatConstant(const Graph& g, const std::string& name) {
  const Value* v = name.empty() ? nullptr : g.FindValue(name);
  if (v == nullptr || !v->constant.has_value() || v->constant->dtype() != DataType::kFloat32) return nullptr;
  return &*v->constant;
}

std::string AddConstant(Graph& g, const std::string& name, Tensor t) {
  std::string unique = name;
  for (int i = 2; g.values.count(unique) != 0; ++i) unique = absl::StrCat(name, "_", i);
  Value& v = g.AddValue(unique, DataType::kFloat32, t.shape());
  v.constant = std::move(t);
  return unique;
}

// Folds `bn` (affine a, b over `channels`) into `prod`; false if prod's form does not allow it.
bool FoldInto(Graph& g, Node& prod, const Node& bn, const ChannelAffine& f, int64_t channels) {
  const Tensor* w = prod.inputs.size() > 1 ? FloatConstant(g, prod.inputs[1]) : nullptr;
  if (w == nullptr) return false;
  const bool has_bias = prod.inputs.size() > 2 && !prod.inputs[2].empty();
  const Tensor* bias = has_bias ? FloatConstant(g, prod.inputs[2]) : nullptr;
  if (has_bias && bias == nullptr) return false;
  const float* wv = w->as<float>();
  Tensor new_w(DataType::kFloat32, w->shape());
  float* nw = new_w.as<float>();
  std::vector<float> new_b(static_cast<size_t>(channels));
  if (prod.op_type == "Conv") {
    if (w->shape().empty() || w->shape()[0] != channels || (bias != nullptr && bias->num_elements() != channels)) {
      return false;
    }
    const int64_t per = w->num_elements() / channels;
    for (int64_t co = 0; co < channels; ++co) {
      const float a = f.a[co];
      for (int64_t i = co * per; i < (co + 1) * per; ++i) nw[i] = wv[i] * a;
    }
    for (int64_t c = 0; c < channels; ++c) new_b[c] = (bias ? bias->as<float>()[c] : 0.0f) * f.a[c] + f.b[c];
  } else {  // Gemm or 2-D MatMul: Y = alpha * A B' + beta * C over columns n
    const bool gemm = prod.op_type == "Gemm";
    const Value* a_in = g.FindValue(prod.inputs[0]);
    if (w->shape().size() != 2 || a_in == nullptr || !a_in->shape.has_value() || a_in->shape->size() != 2) return false;
    const int64_t trans_b = gemm ? prod.GetInt("transB", 0).value_or(-1) : 0;
    const float beta = gemm ? prod.GetFloat("beta", 1.0f).value_or(0.0f) : 1.0f;
    if (trans_b < 0 || (gemm && prod.GetFloat("alpha", 1.0f).ok() == false)) return false;
    const int64_t rows = w->shape()[0], cols = w->shape()[1];
    if ((trans_b ? rows : cols) != channels) return false;
    if (bias != nullptr && bias->num_elements() != 1 &&
        !(bias->num_elements() == channels && bias->shape().back() == channels)) {
      return false;
    }
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) nw[r * cols + c] = wv[r * cols + c] * f.a[trans_b ? r : c];
    }
    for (int64_t n = 0; n < channels; ++n) {
      const float cn = bias == nullptr ? 0.0f : bias->as<float>()[bias->num_elements() == 1 ? 0 : n];
      new_b[n] = f.a[n] * (beta * cn) + f.b[n];
    }
    if (!gemm) {
      prod.op_type = "Gemm";
      prod.attrs.clear();
      prod.opset = 13;
    }
    prod.attrs["beta"] = 1.0f;
  }
  const std::string w_name = AddConstant(g, bn.name + "/folded_weight", std::move(new_w));
  const std::string b_name = AddConstant(g, bn.name + "/folded_bias", Tensor::FromFloats({channels}, new_b));
  prod.inputs.resize(3);
  prod.inputs[1] = w_name;
  prod.inputs[2] = b_name;
  prod.outputs[0] = bn.outputs[0];
  return true;
}

}  // namespace

int FoldBatchNorms(Graph& graph) {
  std::map<std::string, int> uses;
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& in : graph.nodes[i].inputs) uses[in]++;
    for (const std::string& out : graph.nodes[i].outputs) producer[out] = i;
  }
  for (const std::string& out : graph.outputs) uses[out] += 2;
  std::vector<bool> erase(graph.nodes.size(), false);
  int folded = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& bn = graph.nodes[i];
    if (bn.op_type != "BatchNormalization" || bn.inputs.empty() || bn.outputs.empty()) continue;
    const std::string& x = bn.inputs[0];
    auto p = producer.find(x);
    const Value* xv = graph.FindValue(x);
    if (p == producer.end() || uses[x] != 1 || xv == nullptr || !xv->shape.has_value() || xv->shape->size() < 2) {
      continue;
    }
    Node& prod = graph.nodes[p->second];
    if ((prod.op_type != "Conv" && prod.op_type != "Gemm" && prod.op_type != "MatMul") || prod.outputs.size() != 1) {
      continue;
    }
    if (prod.op_type != "Conv" && xv->shape->size() != 2) continue;
    const int64_t channels = (*xv->shape)[1];
    absl::StatusOr<ChannelAffine> f = BatchNormAffine(bn, graph, channels);
    if (!f.ok() || !FoldInto(graph, prod, bn, *f, channels)) continue;
    erase[i] = true;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!erase[i]) kept.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(kept);
  return folded;
}

const Graph* WithBatchNormsFolded(const Graph& graph, std::optional<Graph>& storage) {
  bool any = false;
  for (const Node& node : graph.nodes) any = any || node.op_type == "BatchNormalization";
  if (!any) return &graph;
  storage = graph;
  if (FoldBatchNorms(*storage) == 0) {
    storage.reset();
    return &graph;
  }
  return &*storage;
}

}  // namespace detail
}  // namespace tpusim::compiler
