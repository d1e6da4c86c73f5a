// Pad in modes reflect and edge on the TPU, as DMA copies only (no vector arithmetic, so the result is
// bit-exact), plus the TPU support rule of Pad in every mode. Constant mode stays in
// lower_conv_norm.cc (EmitPadNode); EmitPadAnyModeNode dispatches.
//
// Both modes are separable, so they are built the way numpy.pad builds them, one axis at a time:
//   1. one strided copy of X into the interior of Y (Y[begin + i] = X[i]);
//   2. for each padded axis d in order, two copies inside Y fill the slabs before and after the
//      interior along d. The slabs span the whole output along the axes before d (already padded)
//      and only the interior along the axes after d, so the corners come out as numpy's.
// Along d the source of a slab is Y itself:
//   reflect: Y[b - 1 - k] = Y[b + 1 + k]        -> source index 2b - i, stride -1 (i = 0 .. b-1)
//            Y[b + n + k] = Y[b + n - 2 - k]    -> source index b + n - 2, stride -1
//   edge:    Y[i] = Y[b] (stride 0), Y[b + n + k] = Y[b + n - 1] (stride 0)
// (b = begin pad, n = X's extent). The token scheduler orders every copy after the stores it reads
// (DRAM-byte hazards), so the in-place passes need no extra synchronisation.
//
// The copies never pass through the vector unit (LOAD then STORE of f32 words, which the DMA moves
// bit for bit), so int32 tensors are padded exactly too (MovesInt32Words; bound as INT32).
//
// Supported: non-negative pads; reflect needs every pad < n (numpy's single reflection; ONNX's reference
// and the CPU kernel agree), edge needs n >= 1 where something is padded. Otherwise the node stays on
// the CPU. 'wrap' is not lowered.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "lower_conv.h"
#include "lowering.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

std::string PadMode(const Node& node) {
  auto it = node.attrs.find("mode");
  const std::string* m = it == node.attrs.end() ? nullptr : std::get_if<std::string>(&it->second);
  return m == nullptr ? "constant" : *m;
}

// Unimplemented with the reason if spec (mode reflect or edge) has no TPU lowering for input shape x.
absl::Status CheckReplicateSpec(const Node& node, const detail::PadSpec& spec, const Shape& x) {
  for (size_t d = 0; d < x.size(); ++d) {
    const int64_t lo = spec.begin[d], hi = spec.end[d];
    if (lo < 0 || hi < 0) {
      return absl::UnimplementedError(
          absl::StrCat("Pad: mode '", spec.mode, "' with negative pads is not supported on the TPU"));
    }
    if (spec.mode == "reflect" && (lo > 0 || hi > 0) && (lo >= x[d] || hi >= x[d])) {
      return absl::UnimplementedError(absl::StrCat("Pad: mode 'reflect' with a pad of dim ", d, " not below its size ",
                                                   x[d], " is not supported on the TPU"));
    }
    if (spec.mode == "edge" && (lo > 0 || hi > 0) && x[d] == 0) {
      return absl::UnimplementedError("Pad: mode 'edge' of an empty dim is not supported on the TPU");
    }
  }
  (void)node;
  return absl::OkStatus();
}

}  // namespace

namespace detail {

bool MovesInt32Words(const Node& node) {
  if (node.op_type == "ConstantOfShape") return FillsInt32Zeros(node);  // +0.0f and int32 0 share their bits
  if (node.op_type != "Pad") return false;
  const std::string mode = PadMode(node);
  return mode == "reflect" || mode == "edge";
}

absl::Status CheckPadSupport(const Node& node, const Graph& graph) {
  const std::string mode = PadMode(node);
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    return absl::UnimplementedError(absl::StrCat("Pad: mode '", mode,
                                                 "' is not supported on the TPU (constant, reflect, edge only)"));
  }
  const Value* xv = node.inputs.empty() ? nullptr : graph.FindValue(node.inputs[0]);
  const Shape* x = xv == nullptr ? nullptr : (xv->shape.has_value() ? &*xv->shape
                                              : xv->constant.has_value() ? &xv->constant->shape() : nullptr);
  if (x == nullptr) return absl::OkStatus();
  absl::StatusOr<PadSpec> spec = ResolvePad(node, *x, graph);
  // Pads that are compile-time graph inputs are not known yet: judged when the program is compiled.
  if (!spec.ok() && node.opset >= 11) return absl::OkStatus();
  TPUSIM_RETURN_IF_ERROR(spec.status());
  if (mode != "constant") TPUSIM_RETURN_IF_ERROR(CheckReplicateSpec(node, *spec, *x));
  return absl::OkStatus();
}

}  // namespace detail

namespace codegen {
namespace {

absl::Status EmitReplicatePad(const Node& node, CodegenContext& ctx, const UnaryOperands& io,
                              const detail::PadSpec& spec) {
  const Shape& x = *io.in_shape;
  absl::Status ok = CheckReplicateSpec(node, spec, x);
  if (!ok.ok()) return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": ", ok.message()));
  if (spec.out != *io.out_shape) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": padded shape ", ShapeToString(spec.out),
                                                   " is not the output's ", ShapeToString(*io.out_shape)));
  }
  if (NumElements(spec.out) == 0 || NumElements(x) == 0) return absl::OkStatus();
  const size_t rank = x.size();
  const std::vector<uint64_t> in_strides = RowMajorStrides(x), out_strides = RowMajorStrides(spec.out);
  // 1. X into the interior.
  uint64_t interior = 0;
  std::vector<CopyDim> dims;
  for (size_t d = 0; d < rank; ++d) {
    interior += static_cast<uint64_t>(spec.begin[d]) * out_strides[d];
    dims.push_back({static_cast<uint64_t>(x[d]), static_cast<int64_t>(in_strides[d]), out_strides[d]});
  }
  EmitStridedCopy(ctx, io.in, io.out + interior * kF32Bytes, dims);
  // 2. The slabs of each padded axis, in axis order.
  const bool reflect = spec.mode == "reflect";
  for (size_t d = 0; d < rank; ++d) {
    const uint64_t b = static_cast<uint64_t>(spec.begin[d]), e = static_cast<uint64_t>(spec.end[d]);
    const uint64_t n = static_cast<uint64_t>(x[d]);
    if (b == 0 && e == 0) continue;
    uint64_t base = 0;  // element offset of the slab's origin along the other axes
    std::vector<CopyDim> slab;
    for (size_t a = 0; a < rank; ++a) {
      const int64_t stride = static_cast<int64_t>(out_strides[a]);
      if (a < d) {
        slab.push_back({static_cast<uint64_t>(spec.out[a]), stride, out_strides[a]});
      } else if (a > d) {
        base += static_cast<uint64_t>(spec.begin[a]) * out_strides[a];
        slab.push_back({static_cast<uint64_t>(x[a]), stride, out_strides[a]});
      } else {
        slab.push_back({});  // filled per slab below
      }
    }
    const uint64_t sd = out_strides[d];
    const int64_t step = reflect ? -static_cast<int64_t>(sd) : 0;
    if (b > 0) {
      const uint64_t src_index = reflect ? 2 * b : b;
      slab[d] = {b, step, sd};
      EmitStridedCopy(ctx, io.out + (base + src_index * sd) * kF32Bytes, io.out + base * kF32Bytes, slab);
    }
    if (e > 0) {
      const uint64_t src_index = reflect ? b + n - 2 : b + n - 1;
      slab[d] = {e, step, sd};
      EmitStridedCopy(ctx, io.out + (base + src_index * sd) * kF32Bytes, io.out + (base + (b + n) * sd) * kF32Bytes,
                      slab);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EmitPadAnyModeNode(const Node& node, CodegenContext& ctx) {
  if (PadMode(node) == "constant") return EmitPadNode(node, ctx);
  // Data and output: float32 or int32 (the copies move 32-bit words unchanged; no vector op).
  if (node.inputs.empty() || node.inputs[0].empty() || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs a data input and an output"));
  }
  for (const std::string& name : {node.inputs[0], node.outputs[0]}) {
    if (ctx.ValueOf(name).dtype != DataType::kInt32) TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, name));
  }
  UnaryOperands io;
  TPUSIM_ASSIGN_OR_RETURN(io.in, ctx.F32Region(node.inputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(io.out, ctx.F32Region(node.outputs[0]));
  io.in_shape = &ctx.ShapeOf(node.inputs[0]);
  io.out_shape = &ctx.ShapeOf(node.outputs[0]);
  TPUSIM_ASSIGN_OR_RETURN(detail::PadSpec spec, detail::ResolvePad(node, *io.in_shape, ctx.graph()));
  if (spec.mode != "reflect" && spec.mode != "edge") {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": mode '", spec.mode,
                                                 "' is not supported on the TPU"));
  }
  return EmitReplicatePad(node, ctx, io, spec);
}

}  // namespace codegen
}  // namespace tpusim::compiler
