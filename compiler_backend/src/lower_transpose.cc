// Transpose (any perm, default reversed): one strided copy whose output dim i reads input dim perm[i]
// (codegen_copy.h picks which two dims each DMA carries and loops over the rest).
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

absl::Status EmitTransposeNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Shape& x = *io.in_shape;
  const Shape& y = *io.out_shape;
  std::vector<int64_t> reversed;
  for (size_t i = x.size(); i-- > 0;) reversed.push_back(static_cast<int64_t>(i));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> perm, node.GetInts("perm", reversed));
  if (perm.size() != x.size() || y.size() != x.size()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": perm does not match the input ", ShapeToString(x)));
  }
  const std::vector<uint64_t> in_strides = RowMajorStrides(x), out_strides = RowMajorStrides(y);
  std::vector<CopyDim> dims;
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(x.size()) || x[perm[i]] != y[i]) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": perm does not map ", ShapeToString(x),
                                                     " to ", ShapeToString(y)));
    }
    dims.push_back({static_cast<uint64_t>(y[i]), static_cast<int64_t>(in_strides[perm[i]]), out_strides[i]});
  }
  EmitStridedCopy(ctx, io.in, io.out, dims);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
