// Split and Gather (strided copies, codegen_copy.h) and PRelu (vector unit).
//
// Split: output k is the slice [start_k, start_k + size_k) of `axis`: one strided copy each.
// Gather (indices constant at compile time): the indices are cut into runs that step evenly through
// the gathered axis (i, i+s, i+2s, ...; s may be 0 or negative); each run is one strided copy.
// PRelu: y = relu(x) + slope * min(x, 0), per tile: exactly one of the two terms is nonzero, so the
// result is x or fp32(slope * x), as the reference computes it. The slope tile is a DMA of the slope
// with broadcast (0) strides; a constant slope with one value is leaky_relu with that imm instead.
#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "codegen_vector.h"
#include "lowering.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

using isa::VectorOp;

// Inner and outer element counts around `axis` of `shape`.
void AroundAxis(const Shape& shape, int64_t axis, uint64_t& outer, uint64_t& inner) {
  outer = inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) outer *= static_cast<uint64_t>(shape[d]);
    if (d > axis) inner *= static_cast<uint64_t>(shape[d]);
  }
}

absl::StatusOr<std::vector<int64_t>> IndexValues(const Node& node, CodegenContext& ctx, int64_t extent) {
  const Value& v = ctx.ValueOf(node.inputs[1]);
  if (!v.constant.has_value()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": indices are not known at compile time"));
  }
  const Tensor& t = *v.constant;
  std::vector<int64_t> idx;
  for (int64_t j = 0; j < t.num_elements(); ++j) {
    if (t.dtype() == DataType::kInt64) {
      idx.push_back(t.as<int64_t>()[j]);
    } else if (t.dtype() == DataType::kInt32) {
      idx.push_back(t.as<int32_t>()[j]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": indices must be int32 or int64"));
    }
    if (idx.back() < -extent || idx.back() >= extent) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": index ", idx.back(),
                                                     " is out of range for an axis of ", extent));
    }
    if (idx.back() < 0) idx.back() += extent;
  }
  return idx;
}

}  // namespace

absl::Status EmitSplitNode(const Node& node, CodegenContext& ctx) {
  if (node.inputs.empty() || node.inputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs a data input"));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[0]));
  const Shape& x = ctx.ShapeOf(node.inputs[0]);
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, detail::NormalizeAxis(node, axis_attr, static_cast<int64_t>(x.size())));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, detail::SplitSizes(node, x, axis, ctx.graph()));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t in, ctx.F32Region(node.inputs[0]));
  uint64_t outer, inner;
  AroundAxis(x, axis, outer, inner);
  const uint64_t extent = static_cast<uint64_t>(x[axis]);
  uint64_t start = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const uint64_t size = static_cast<uint64_t>(sizes[k]);
    const std::string& name = node.outputs[k];
    if (!name.empty() && size * outer * inner > 0) {
      TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, name));
      TPUSIM_ASSIGN_OR_RETURN(uint64_t out, ctx.F32Region(name));
      EmitStridedCopy(ctx, in + start * inner * kF32Bytes, out,
                      {{outer, static_cast<int64_t>(extent * inner), size * inner}, {size * inner, 1, 1}});
    }
    start += size;
  }
  return absl::OkStatus();
}

absl::Status EmitGatherNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  if (node.inputs.size() != 2) return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": expects 2 inputs"));
  const Shape& data = *io.in_shape;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, detail::NormalizeAxis(node, axis_attr, static_cast<int64_t>(data.size())));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> idx, IndexValues(node, ctx, data[axis]));
  uint64_t outer, inner;
  AroundAxis(data, axis, outer, inner);
  if (outer * inner == 0) return absl::OkStatus();
  const uint64_t n = idx.size();
  const int64_t row = data[axis] * static_cast<int64_t>(inner);  // source elements per outer index
  for (uint64_t j = 0; j < n;) {
    const int64_t step = j + 1 < n ? idx[j + 1] - idx[j] : 1;
    uint64_t run = 1;
    while (j + run < n && idx[j + run] - idx[j + run - 1] == step) ++run;
    EmitStridedCopy(ctx, io.in + static_cast<uint64_t>(idx[j]) * inner * kF32Bytes, io.out + j * inner * kF32Bytes,
                    {{outer, row, n * inner}, {run, step * static_cast<int64_t>(inner), inner}, {inner, 1, 1}});
    j += run;
  }
  return absl::OkStatus();
}

absl::Status EmitPReluNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  if (node.inputs.size() != 2 || node.inputs[1].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": expects X and slope"));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[1]));
  const Shape& x = *io.in_shape;
  const uint64_t n = static_cast<uint64_t>(NumElements(x));
  if (n == 0) return absl::OkStatus();
  const Value& slope_value = ctx.ValueOf(node.inputs[1]);
  if (slope_value.constant.has_value() && slope_value.constant->num_elements() > 0) {
    const Tensor& t = *slope_value.constant;
    const float* s = t.as<float>();
    if (std::all_of(s, s + t.num_elements(), [&](float v) { return v == s[0]; })) {
      EmitFlat(ctx, VectorOp::LeakyRelu, {FlatOperand{io.in, false}}, io.out, n, s[0]);
      return absl::OkStatus();
    }
  }
  TPUSIM_ASSIGN_OR_RETURN(uint64_t slope, ctx.F32Region(node.inputs[1]));
  // Dims of X (size-1 dropped) with X's and the broadcast slope's element strides.
  const Shape& s = ctx.ShapeOf(node.inputs[1]);
  struct Dim {
    uint64_t size, x_stride, s_stride;
  };
  std::vector<Dim> dims;
  uint64_t x_run = 1, s_run = 1;
  for (size_t i = x.size(); i-- > 0;) {
    const size_t from_end = x.size() - 1 - i;
    const int64_t sd = from_end < s.size() ? s[s.size() - 1 - from_end] : 1;
    if (x[i] != 1) dims.insert(dims.begin(), {static_cast<uint64_t>(x[i]), x_run, sd == 1 ? 0 : s_run});
    x_run *= static_cast<uint64_t>(x[i]);
    s_run *= static_cast<uint64_t>(sd);
  }
  const uint64_t L = ctx.lanes();
  UbAllocator ub = ctx.NewUb();
  const uint64_t chunk = std::min(ub.free() / 3, kMaxInstRows);
  const uint64_t a = ub.Take(chunk), b = ub.Take(chunk), t = ub.Take(chunk);
  // rows x lanes of outputs starting at element xo of X (so of the slope), in tiles of the UB.
  auto emit_2d = [&](const Dim& rows, const Dim& lanes, uint64_t xo, uint64_t so) {
    for (uint64_t r0 = 0; r0 < rows.size; r0 += chunk) {
      for (uint64_t l0 = 0; l0 < lanes.size; l0 += L) {
        const uint64_t nr = std::min(chunk, rows.size - r0), nl = std::min(L, lanes.size - l0);
        const uint64_t xe = xo + r0 * rows.x_stride + l0 * lanes.x_stride;
        const uint64_t se = so + r0 * rows.s_stride + l0 * lanes.s_stride;
        ctx.Load(isa::DType::F32, {io.in + xe * kF32Bytes, rows.x_stride, lanes.x_stride}, a, nr, nl);
        ctx.Load(isa::DType::F32, {slope + se * kF32Bytes, rows.s_stride, lanes.s_stride}, b, nr, nl);
        ctx.Vector(VectorOp::MinImm, t, a, 0, nr, false, 0.0f);
        ctx.Vector(VectorOp::Mul, t, t, b, nr);
        ctx.Vector(VectorOp::Relu, a, a, 0, nr);
        ctx.Vector(VectorOp::Add, a, a, t, nr);
        ctx.Store(isa::DType::F32, {io.out + xe * kF32Bytes, rows.x_stride, lanes.x_stride}, a, nr, nl);
      }
    }
  };
  if (dims.size() < 2) {  // one dim: full rows of L elements (row stride L * stride), then a partial row
    const Dim d = dims.empty() ? Dim{1, 1, 0} : dims[0];
    const uint64_t full = d.size / L, rest = d.size % L;
    if (full > 0) emit_2d({full, L * d.x_stride, L * d.s_stride}, {L, d.x_stride, d.s_stride}, 0, 0);
    if (rest > 0) emit_2d({1, 0, 0}, {rest, d.x_stride, d.s_stride}, full * L * d.x_stride, full * L * d.s_stride);
    return absl::OkStatus();
  }
  const Dim rows = dims[dims.size() - 2], lanes = dims.back();
  dims.resize(dims.size() - 2);
  uint64_t outer = 1;
  for (const Dim& d : dims) outer *= d.size;
  for (uint64_t o = 0; o < outer; ++o) {
    uint64_t xo = 0, so = 0, rest = o;
    for (size_t i = dims.size(); i-- > 0;) {
      xo += rest % dims[i].size * dims[i].x_stride;
      so += rest % dims[i].size * dims[i].s_stride;
      rest /= dims[i].size;
    }
    emit_2d(rows, lanes, xo, so);
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
