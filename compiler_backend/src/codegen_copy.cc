// Strided copies (codegen_copy.h).
#include "codegen_copy.h"

#include <algorithm>
#include <optional>

#include "codegen_vector.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Size-1 dims dropped; an outer dim merges into its inner neighbour when both strides are linear.
std::vector<CopyDim> Coalesce(const std::vector<CopyDim>& dims) {
  std::vector<CopyDim> merged;
  for (const CopyDim& d : dims) {
    if (d.size == 1) continue;
    if (!merged.empty()) {
      CopyDim& outer = merged.back();
      const int64_t n = static_cast<int64_t>(d.size);
      if (outer.src_stride == d.src_stride * n && outer.dst_stride == d.dst_stride * d.size) {
        outer.size *= d.size;
        outer.src_stride = d.src_stride;
        outer.dst_stride = d.dst_stride;
        continue;
      }
    }
    merged.push_back(d);
  }
  if (merged.empty()) merged.push_back({1, 1, 1});
  return merged;
}

// How each block is streamed: `lane` and `row` are dims of `dims` (or none: one lane / one row per
// block); flat streams the last dim as full UB rows plus a partial row.
struct Choice {
  bool flat = false;
  std::optional<size_t> row, lane;
  uint64_t loads = ~uint64_t{0};
};

Choice Choose(const std::vector<CopyDim>& dims, uint64_t lanes, uint64_t chunk_rows) {
  uint64_t total = 1;
  for (const CopyDim& d : dims) total *= d.size;
  Choice best;
  const CopyDim& last = dims.back();
  if (last.src_stride == 1 && last.dst_stride == 1) {
    best.flat = true;
    best.lane = dims.size() - 1;
    const uint64_t full = last.size / lanes;
    best.loads = total / last.size * (CeilDiv(full, chunk_rows) + (last.size % lanes != 0 ? 1 : 0));
  }
  // Index dims.size() stands for "none". Innermost dims are tried first and win ties.
  const size_t none = dims.size();
  for (size_t l = none + 1; l-- > 0;) {
    if (l != none && dims[l].src_stride < 0) continue;
    for (size_t r = none + 1; r-- > 0;) {
      if ((r == l && r != none) || (r != none && dims[r].src_stride < 0)) continue;
      const uint64_t lane_size = l == none ? 1 : dims[l].size, row_size = r == none ? 1 : dims[r].size;
      const uint64_t loads = total / lane_size / row_size * CeilDiv(lane_size, lanes) * CeilDiv(row_size, chunk_rows);
      if (loads < best.loads) {
        best = Choice{false, r == none ? std::nullopt : std::optional<size_t>(r),
                      l == none ? std::nullopt : std::optional<size_t>(l), loads};
      }
    }
  }
  return best;
}

uint64_t Advance(uint64_t base, int64_t elements) {
  const int64_t addr = static_cast<int64_t>(base) + elements * static_cast<int64_t>(kF32Bytes);
  TPUSIM_CHECK(addr >= 0, "EmitStridedCopy: a source element before the frame");
  return static_cast<uint64_t>(addr);
}

}  // namespace

std::vector<uint64_t> RowMajorStrides(const Shape& shape) {
  std::vector<uint64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * static_cast<uint64_t>(shape[i]);
  return strides;
}

void EmitStridedCopy(CodegenContext& ctx, uint64_t src, uint64_t dst, std::vector<CopyDim> dims) {
  for (const CopyDim& d : dims) {
    if (d.size == 0) return;
  }
  dims = Coalesce(dims);
  // Rows per chunk as EmitVectorBlock sizes them for a one-operand block.
  const uint64_t chunk_rows = std::max<uint64_t>(1, std::min(ctx.ub_rows() / (ctx.overlapped() ? 2 : 1), kMaxInstRows));
  const Choice c = Choose(dims, ctx.lanes(), chunk_rows);
  std::vector<size_t> loops;
  for (size_t i = 0; i < dims.size(); ++i) {
    if ((!c.lane.has_value() || i != *c.lane) && (!c.row.has_value() || i != *c.row)) loops.push_back(i);
  }
  uint64_t count = 1;
  for (size_t i : loops) count *= dims[i].size;
  std::vector<uint64_t> idx(loops.size(), 0);
  const CopyDim lane = c.lane.has_value() ? dims[*c.lane] : CopyDim{1, 0, 0};
  for (uint64_t it = 0; it < count; ++it) {
    int64_t src_off = 0;
    uint64_t dst_off = 0;
    for (size_t k = 0; k < loops.size(); ++k) {
      src_off += static_cast<int64_t>(idx[k]) * dims[loops[k]].src_stride;
      dst_off += idx[k] * dims[loops[k]].dst_stride;
    }
    const uint64_t from = Advance(src, src_off), to = dst + dst_off * kF32Bytes;
    if (c.flat) {
      EmitFlat(ctx, std::nullopt, {FlatOperand{from, false}}, to, lane.size);
    } else {
      VectorBlock block;
      const CopyDim row = c.row.has_value() ? dims[*c.row] : CopyDim{1, 0, 0};
      block.in = {DramView{from, static_cast<uint64_t>(row.src_stride), static_cast<uint64_t>(lane.src_stride)}};
      block.out = {to, row.dst_stride, lane.dst_stride};
      block.rows = row.size;
      block.lanes = lane.size;
      EmitVectorBlock(ctx, block);
    }
    for (size_t k = loops.size(); k-- > 0;) {
      if (++idx[k] < dims[loops[k]].size) break;
      idx[k] = 0;
    }
  }
}

}  // namespace tpusim::compiler::codegen
