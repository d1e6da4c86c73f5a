// Expand: one strided copy from the input, aligned to the output's trailing dims, with source stride 0
// on every dim the input broadcasts (size 1 or missing): the DMA reads the same elements again.
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

absl::Status EmitExpandNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Shape& x = *io.in_shape;
  const Shape& y = *io.out_shape;
  if (x.size() > y.size()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input ", ShapeToString(x),
                                                   " has a higher rank than the output ", ShapeToString(y)));
  }
  const std::vector<uint64_t> in_strides = RowMajorStrides(x), out_strides = RowMajorStrides(y);
  const size_t lead = y.size() - x.size();
  std::vector<CopyDim> dims;
  for (size_t d = 0; d < y.size(); ++d) {
    const bool from_input = d >= lead && x[d - lead] != 1;
    if (from_input && x[d - lead] != y[d]) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input ", ShapeToString(x),
                                                     " does not broadcast to ", ShapeToString(y)));
    }
    dims.push_back({static_cast<uint64_t>(y[d]), from_input ? static_cast<int64_t>(in_strides[d - lead]) : 0,
                    out_strides[d]});
  }
  EmitStridedCopy(ctx, io.in, io.out, dims);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
