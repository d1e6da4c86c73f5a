// ReduceSum, ReduceMean, ReduceMax over any set of axes (keepdims and noop_with_empty_axes as in
// shape inference: detail::ReduceAxes), the softmax way: reduced elements on UB rows, independent
// outputs on lanes, VECTOR reduce_* over the rows.
//
// The input's dims (size-1 dims dropped) merge into alternating groups of kept and reduced dims. One
// kept group goes on lanes and one reduced group on rows (the pair needing the fewest LOADs); the other
// kept groups are independent loops, the other reduced groups accumulation loops. Per block of outputs
// (a lane chunk at one kept index):
//   acc = reduce(rows of the first chunk); for every further chunk: tmp = reduce(chunk), acc = acc (+) tmp
// with (+) = add for Sum/Mean and max for Max; Mean then multiplies acc by fp32(1/n), n the number of
// reduced elements (mul_imm: two roundings, relative error below 2^-23, far inside ONNX's rtol 1e-3).
//
// Summation order (Sum, Mean), per output: the accumulation loops' multi-index in row-major order; for
// each, the row group in chunks of up to C rows (C from the UB size); within a chunk reduce_sum adds
// rows in order starting from the first row's value, and each chunk's sum is added to the running sum.
// So a reduction over n <= C rows is the plain sequential sum x0 + x1 + ... + x(n-1).
// A reduction over zero elements writes the identity: 0 (Sum), NaN (Mean, 0/0), -Inf (Max).
#include <algorithm>
#include <cmath>
#include <optional>
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

// A run of neighbouring input dims that are all kept or all reduced, merged into one.
struct Group {
  bool reduced = false;
  uint64_t size = 1;
  uint64_t in_stride = 0;   // elements
  uint64_t out_stride = 0;  // elements of the output (kept groups only)
};

std::vector<Group> Groups(const Shape& x, const std::vector<bool>& reduced) {
  const std::vector<uint64_t> strides = RowMajorStrides(x);
  std::vector<Group> groups;
  for (size_t d = 0; d < x.size(); ++d) {
    if (x[d] == 1) continue;
    const uint64_t size = static_cast<uint64_t>(x[d]);
    if (!groups.empty() && groups.back().reduced == reduced[d]) {  // row-major: always linear
      groups.back().size *= size;
      groups.back().in_stride = strides[d];
      continue;
    }
    groups.push_back({reduced[d], size, strides[d], 0});
  }
  uint64_t out_run = 1;
  for (size_t g = groups.size(); g-- > 0;) {
    if (groups[g].reduced) continue;
    groups[g].out_stride = out_run;
    out_run *= groups[g].size;
  }
  return groups;
}

// Calls f(offset_in, offset_out) for every multi-index of `dims` (groups), row-major.
template <typename F>
void ForEachIndex(const std::vector<Group>& dims, F f) {
  uint64_t count = 1;
  for (const Group& g : dims) count *= g.size;
  std::vector<uint64_t> idx(dims.size(), 0);
  for (uint64_t it = 0; it < count; ++it) {
    uint64_t in = 0, out = 0;
    for (size_t k = 0; k < dims.size(); ++k) {
      in += idx[k] * dims[k].in_stride;
      out += idx[k] * dims[k].out_stride;
    }
    f(in, out);
    for (size_t k = dims.size(); k-- > 0;) {
      if (++idx[k] < dims[k].size) break;
      idx[k] = 0;
    }
  }
}

struct ReduceKind {
  VectorOp reduce;   // over rows
  VectorOp combine;  // running value with a chunk's
  bool mean = false;
  float empty = 0.0f;  // the result of reducing no elements
};

absl::StatusOr<ReduceKind> KindOf(const Node& node) {
  if (node.op_type == "ReduceSum") return ReduceKind{VectorOp::ReduceSum, VectorOp::Add, false, 0.0f};
  if (node.op_type == "ReduceMean") return ReduceKind{VectorOp::ReduceSum, VectorOp::Add, true, NAN};
  if (node.op_type == "ReduceMax") return ReduceKind{VectorOp::ReduceMax, VectorOp::Max, false, -INFINITY};
  return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": not a reduction with a TPU lowering"));
}

}  // namespace

absl::Status EmitReduceNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  TPUSIM_ASSIGN_OR_RETURN(ReduceKind kind, KindOf(node));
  const Shape& x = *io.in_shape;
  TPUSIM_ASSIGN_OR_RETURN(std::vector<bool> reduced,
                          detail::ReduceAxes(node, static_cast<int64_t>(x.size()), ctx.graph()));
  const uint64_t n_out = static_cast<uint64_t>(NumElements(*io.out_shape));
  uint64_t n_reduced = 1, n_kept = 1;
  for (size_t d = 0; d < x.size(); ++d) (reduced[d] ? n_reduced : n_kept) *= static_cast<uint64_t>(x[d]);
  if (n_kept != n_out) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": output ", ShapeToString(*io.out_shape),
                                                   " does not match the reduction of ", ShapeToString(x)));
  }
  if (n_out == 0) return absl::OkStatus();
  if (n_reduced == 0) {  // the output's own region stands in as the (ignored) operand of fill
    EmitFlat(ctx, VectorOp::Fill, {FlatOperand{io.out, false}}, io.out, n_out, kind.empty);
    return absl::OkStatus();
  }
  std::vector<Group> groups = Groups(x, reduced);
  const bool any_reduced = std::any_of(groups.begin(), groups.end(), [](const Group& g) { return g.reduced; });
  if (!any_reduced) {  // every reduced dim has size 1: the values pass unchanged
    EmitFlat(ctx, std::nullopt, {FlatOperand{io.in, false}}, io.out, n_out);
    return absl::OkStatus();
  }

  // UB: per slot a running row and a data chunk; one scratch row for a chunk's partial result. The
  // layout (so the chunk size, so the summation order) is the same under both schedules: kSerial just
  // uses slot 0 only. Compile guarantees 4 UB rows; below 8 there is one slot.
  const uint64_t L = ctx.lanes();
  const uint64_t layout_slots = ctx.ub_rows() >= 8 ? 2 : 1;
  const uint64_t slots = ctx.overlapped() ? layout_slots : 1;
  UbAllocator ub = ctx.NewUb();
  std::vector<uint64_t> acc_rows(layout_slots), data_rows(layout_slots);
  for (uint64_t& r : acc_rows) r = ub.Take(1);
  const uint64_t tmp_row = ub.Take(1);
  const uint64_t chunk_cap = std::min(ub.free() / layout_slots, kMaxInstRows);
  TPUSIM_CHECK(chunk_cap >= 1, "EmitReduceNode: UB too small");

  // Lanes: a kept group (or none: one lane); rows: a reduced group. The pair with the fewest LOADs.
  std::optional<size_t> lane;
  size_t row = 0;
  uint64_t best = ~uint64_t{0};
  for (size_t r = groups.size(); r-- > 0;) {
    if (!groups[r].reduced) continue;
    for (size_t l = groups.size() + 1; l-- > 0;) {  // l == groups.size(): no lane group
      const bool has_lane = l < groups.size();
      if (has_lane && groups[l].reduced) continue;
      const uint64_t lane_size = has_lane ? groups[l].size : 1;
      const uint64_t loads = n_kept / lane_size * (n_reduced / groups[r].size) * ((lane_size + L - 1) / L) *
                             ((groups[r].size + chunk_cap - 1) / chunk_cap);
      if (loads < best) {
        best = loads;
        row = r;
        lane = has_lane ? std::optional<size_t>(l) : std::nullopt;
      }
    }
  }
  const Group rows = groups[row];
  const Group lanes = lane.has_value() ? groups[*lane] : Group{false, 1, 0, 0};
  std::vector<Group> kept_loops, reduced_loops;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g == row || (lane.has_value() && g == *lane)) continue;
    (groups[g].reduced ? reduced_loops : kept_loops).push_back(groups[g]);
  }
  const uint64_t chunk = std::min(chunk_cap, rows.size);
  for (uint64_t& r : data_rows) r = ub.Take(chunk);

  uint64_t& phase = ctx.stream_phase();
  uint64_t block = phase;
  const float inv_n = 1.0f / static_cast<float>(n_reduced);
  ForEachIndex(kept_loops, [&](uint64_t kept_in, uint64_t kept_out) {
    for (uint64_t l0 = 0; l0 < lanes.size; l0 += L) {
      const uint64_t nl = std::min(L, lanes.size - l0);
      const uint64_t acc = acc_rows[block++ % slots];
      bool first = true;
      ForEachIndex(reduced_loops, [&](uint64_t red_in, uint64_t) {
        for (uint64_t r0 = 0; r0 < rows.size; r0 += chunk) {
          const uint64_t nr = std::min(chunk, rows.size - r0);
          const uint64_t data = data_rows[phase++ % slots];
          const uint64_t first_elem = kept_in + red_in + r0 * rows.in_stride + l0 * lanes.in_stride;
          ctx.Load(isa::DType::F32, {io.in + first_elem * kF32Bytes, rows.in_stride, lanes.in_stride}, data, nr, nl);
          ctx.Vector(kind.reduce, first ? acc : tmp_row, data, 0, nr);
          if (!first) ctx.Vector(kind.combine, acc, acc, tmp_row, 1);
          first = false;
        }
      });
      if (kind.mean) ctx.Vector(VectorOp::MulImm, acc, acc, 0, 1, false, inv_n);
      const uint64_t out_elem = kept_out + l0 * lanes.out_stride;
      ctx.Store(isa::DType::F32, {io.out + out_elem * kF32Bytes, 0, lanes.out_stride}, acc, 1, nl);
    }
  });
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
