// Slice: one strided copy. Output dim d reads input index start[d] + i * step[d], so its source stride
// is step[d] x the input's row-major stride (negative for a negative step: codegen_copy.h then loops
// over that dim instead of giving it to the DMA). starts/ends/axes/steps are constants here (graph
// inputs used only there are compile-time inputs); detail::ResolveSlice applies ONNX's clamping.
#include <vector>

#include "absl/status/status.h"
#include "codegen_copy.h"
#include "lowering.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

absl::Status EmitSliceNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Shape& x = *io.in_shape;
  TPUSIM_ASSIGN_OR_RETURN(detail::SliceDims s, detail::ResolveSlice(node, x, ctx.graph()));
  if (s.size != *io.out_shape) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": the slice of ", ShapeToString(x), " is ",
                                                   ShapeToString(s.size), ", not the output's ",
                                                   ShapeToString(*io.out_shape)));
  }
  if (NumElements(s.size) == 0) return absl::OkStatus();
  const std::vector<uint64_t> in_strides = RowMajorStrides(x), out_strides = RowMajorStrides(s.size);
  int64_t first = 0;  // element offset of the first element read
  std::vector<CopyDim> dims;
  for (size_t d = 0; d < x.size(); ++d) {
    first += s.start[d] * static_cast<int64_t>(in_strides[d]);
    dims.push_back({static_cast<uint64_t>(s.size[d]), s.step[d] * static_cast<int64_t>(in_strides[d]), out_strides[d]});
  }
  EmitStridedCopy(ctx, io.in + static_cast<uint64_t>(first) * kF32Bytes, io.out, dims);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
