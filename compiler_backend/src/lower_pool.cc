// MaxPool and AveragePool over any number of spatial dims, and GlobalAveragePool / GlobalMaxPool (as
// ReduceMean / ReduceMax over the spatial axes, lower_reduce.cc; streamed by lower_pool_global.cc where
// it applies).
//
// Windows (shape_functions.h ResolvePool): output o of a spatial dim reads input o*stride - pad_begin +
// j*dilation, j < kernel. When some window reaches outside the input (pads, or ceil_mode running past
// the end), the input is first copied into a padded scratch image whose border holds the padding value:
// -Inf for max (so padding never wins) and 0 for average (so it adds nothing); otherwise windows read
// the input directly. Then, per tile of outputs (UB rows x lanes over two of the dims [N*C, out_1..k],
// the pair needing the fewest LOADs; the other dims are loops), every kernel offset is one strided LOAD
// of the tile's window elements, folded into the running tile by VECTOR max / add:
//   acc = window(offset 0); for each further offset in row-major order: acc = acc (max|+) window(offset)
// MaxPool whose planes and output rows merge into one DMA dimension takes lower_pool_merged.cc instead.
// AveragePool then multiplies by fp32(1/count): mul_imm when every window has the same count, else
// a LOAD of a constant tile of 1/count per output position (count: window positions inside the input,
// or with count_include_pad inside the explicit pads).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "codegen_vector.h"
#include "lower_pool_global.h"
#include "lower_pool_merged.h"
#include "lowering.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

using isa::VectorOp;

bool IsGlobal(const Node& node) { return node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool"; }

// Everything both phases derive from the node: geometry, the padded image, the averaging counts.
struct PoolLayout {
  detail::PoolDims p;
  uint64_t planes = 0;            // N * C
  bool padded = false;            // windows read a padded scratch image
  std::vector<uint64_t> image;    // extents of the image windows read (padded or the input's)
  std::vector<float> inv_count;   // AveragePool: 1/count per output position (row-major over out dims)
  bool uniform = true;            // every inv_count equal
};

absl::StatusOr<PoolLayout> Layout(const Node& node, const Shape& x) {
  PoolLayout l;
  TPUSIM_ASSIGN_OR_RETURN(l.p, detail::ResolvePool(node, x));
  const detail::PoolDims& p = l.p;
  const size_t k = p.in.size();
  l.planes = static_cast<uint64_t>(x[0] * x[1]);
  for (size_t d = 0; d < k; ++d) {
    const int64_t end = (p.out[d] - 1) * p.stride[d] - p.pad_begin[d] + (p.kernel[d] - 1) * p.dilation[d] + 1;
    l.padded = l.padded || p.pad_begin[d] > 0 || end > p.in[d];
  }
  for (size_t d = 0; d < k; ++d) {
    const int64_t end = (p.out[d] - 1) * p.stride[d] - p.pad_begin[d] + (p.kernel[d] - 1) * p.dilation[d] + 1;
    l.image.push_back(static_cast<uint64_t>(l.padded ? std::max(p.in[d], end) + p.pad_begin[d] : p.in[d]));
  }
  if (node.op_type != "AveragePool") return l;
  TPUSIM_ASSIGN_OR_RETURN(int64_t include_pad, node.GetInt("count_include_pad", 0));
  std::vector<std::vector<int64_t>> counts(k);  // per dim and output index: positions counted
  for (size_t d = 0; d < k; ++d) {
    const int64_t lo = include_pad ? -p.pad_begin[d] : 0, hi = include_pad ? p.in[d] + p.pad_end[d] : p.in[d];
    for (int64_t o = 0; o < p.out[d]; ++o) {
      int64_t c = 0;
      for (int64_t j = 0; j < p.kernel[d]; ++j) {
        const int64_t i = o * p.stride[d] - p.pad_begin[d] + j * p.dilation[d];
        c += i >= lo && i < hi;
      }
      counts[d].push_back(c);
    }
  }
  int64_t n_out = 1;
  for (int64_t o : p.out) n_out *= o;
  for (int64_t q = 0; q < n_out; ++q) {
    int64_t rest = q, count = 1;
    for (size_t d = k; d-- > 0;) {
      count *= counts[d][rest % p.out[d]];
      rest /= p.out[d];
    }
    l.inv_count.push_back(count == 0 ? NAN : 1.0f / static_cast<float>(count));
    l.uniform = l.uniform && (std::isnan(l.inv_count.back()) ? false : l.inv_count.back() == l.inv_count.front());
  }
  return l;
}

std::string PaddedKey(const Node& node) { return node.name + "/padded"; }
std::string InvCountKey(const Node& node) { return node.name + "/inv_count"; }

// One tiling dim: extent, element strides in the image, the output and the 1/count constant.
struct TileDim {
  uint64_t size;
  uint64_t image_stride, out_stride, count_stride;
};

// Calls f(image_off, out_off, count_off) for each multi-index of `loops`.
template <typename F>
void ForEachIndex(const std::vector<TileDim>& loops, F f) {
  std::vector<uint64_t> idx(loops.size(), 0);
  while (true) {
    uint64_t a = 0, b = 0, c = 0;
    for (size_t d = 0; d < loops.size(); ++d) {
      a += idx[d] * loops[d].image_stride;
      b += idx[d] * loops[d].out_stride;
      c += idx[d] * loops[d].count_stride;
    }
    f(a, b, c);
    size_t d = loops.size();
    while (d > 0 && ++idx[d - 1] == loops[d - 1].size) idx[--d] = 0;
    if (d == 0) return;
  }
}

std::string FullKey(const Node& node) { return node.name + "/flat_max"; }

// MaxPool over the flat image (every plane's image back to back, plane stride PS = prod(image)): the
// maximum at every flat position q < Q = planes * PS - last kernel offset, acc[q] = max_w image[q +
// offset_w], is a 1-D sliding maximum: per kernel offset one LOAD of whole UB rows (L consecutive
// positions each) and one VECTOR max, into a full-grid scratch; one strided copy then picks the outputs
// (plane, o) at q = plane * PS + sum_d o_d * stride_d * image_stride_d. The positions between outputs
// are computed and dropped; max is exact, so the bits equal the tiled loop's. Taken when it needs fewer
// DMAs than the tiled loop (`tiles` tiles of one LOAD per kernel offset each).
uint64_t FlatMaxRows(const PoolLayout& l, uint64_t plane_stride, uint64_t last_offset, uint64_t lanes) {
  return (l.planes * plane_stride - last_offset + lanes - 1) / lanes;
}

bool UseFlatMax(const Node& node, const PoolLayout& l, uint64_t tiles, uint64_t chunk_cap, uint64_t lanes) {
  if (node.op_type != "MaxPool") return false;
  uint64_t plane = 1;
  for (uint64_t e : l.image) plane *= e;
  const uint64_t kernel = static_cast<uint64_t>(NumElements(Shape(l.p.kernel.begin(), l.p.kernel.end())));
  const uint64_t chunks = (FlatMaxRows(l, plane, 0, lanes) + chunk_cap - 1) / chunk_cap + 1;
  const uint64_t pick = 2 * std::min<uint64_t>(l.planes, static_cast<uint64_t>(l.p.out.front()));  // LOAD + STORE
  return chunks * (kernel + 1) + pick < tiles * kernel;
}

void EmitFlatMax(CodegenContext& ctx, const PoolLayout& l, uint64_t image, uint64_t full, uint64_t out,
                 const std::vector<uint64_t>& image_strides, const std::vector<uint64_t>& kernel_offsets,
                 uint64_t chunk, const std::vector<uint64_t>& acc, const std::vector<uint64_t>& win) {
  const uint64_t L = ctx.lanes(), plane = image_strides[0];
  const uint64_t q_total = l.planes * plane - kernel_offsets.back();
  uint64_t& phase = ctx.stream_phase();
  for (uint64_t q0 = 0; q0 < q_total;) {
    // Whole rows while at least one is left, then the partial last row.
    const uint64_t full_rows = (q_total - q0) / L;
    const uint64_t nr = full_rows > 0 ? std::min(chunk, full_rows) : 1;
    const uint64_t nl = full_rows > 0 ? L : q_total - q0;
    const uint64_t slot = phase++ % acc.size();
    for (size_t w = 0; w < kernel_offsets.size(); ++w) {
      const DramView view{image + (q0 + kernel_offsets[w]) * kF32Bytes, L, 1};
      ctx.Load(isa::DType::F32, view, w == 0 ? acc[slot] : win[slot], nr, nl);
      if (w > 0) ctx.Vector(VectorOp::Max, acc[slot], acc[slot], win[slot], nr);
    }
    ctx.Store(isa::DType::F32, DramView{full + q0 * kF32Bytes, L, 1}, acc[slot], nr, nl);
    q0 += nr * nl;
  }
  const size_t k = l.p.out.size();
  std::vector<uint64_t> out_strides(k + 1, 1);
  for (size_t d = k; d-- > 0;) out_strides[d] = out_strides[d + 1] * static_cast<uint64_t>(l.p.out[d]);
  std::vector<CopyDim> dims = {{l.planes, static_cast<int64_t>(plane), out_strides[0]}};
  for (size_t d = 0; d < k; ++d) {
    dims.push_back({static_cast<uint64_t>(l.p.out[d]),
                    static_cast<int64_t>(static_cast<uint64_t>(l.p.stride[d]) * image_strides[d + 1]),
                    out_strides[d + 1]});
  }
  EmitStridedCopy(ctx, full, out, dims);
}

}  // namespace

absl::Status PlanPoolNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_RETURN_IF_ERROR(PlanConstantInputs(node, ctx));
  if (IsGlobal(node) || node.inputs.empty() || node.inputs[0].empty()) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(PoolLayout l, Layout(node, ctx.ShapeOf(node.inputs[0])));
  if (node.op_type == "MaxPool" && UseMergedMaxPool(l.p)) {  // lower_pool_merged.cc
    PlanMergedMaxPool(node.name + "/merged", l.p, l.planes, ctx);
    return absl::OkStatus();
  }
  uint64_t image_elements = l.planes;
  for (uint64_t e : l.image) image_elements *= e;
  if (l.padded) ctx.AllocateScratch(PaddedKey(node), image_elements * kF32Bytes);
  if (node.op_type == "MaxPool") ctx.AllocateScratch(FullKey(node), image_elements * kF32Bytes);
  if (!l.uniform) {
    const uint64_t bytes = l.inv_count.size() * kF32Bytes;
    const uint64_t offset = ctx.AllocateScratch(InvCountKey(node), bytes);
    isa::Segment seg;
    seg.set_name(InvCountKey(node));
    seg.set_dram_offset(offset);
    seg.set_data(reinterpret_cast<const char*>(l.inv_count.data()), bytes);
    ctx.segments().push_back(std::move(seg));
  }
  return absl::OkStatus();
}

absl::Status EmitPoolNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Shape& x = *io.in_shape;
  if (IsGlobal(node)) {
    uint64_t hw = 1;
    for (size_t d = 2; d < x.size(); ++d) hw *= static_cast<uint64_t>(x[d]);
    const uint64_t groups = x.size() >= 2 ? static_cast<uint64_t>(x[0] * x[1]) : 0;
    if (x.size() >= 3 && EmitGlobalPoolStreamed(ctx, io.in, io.out, groups, hw, node.op_type == "GlobalAveragePool")) {
      return absl::OkStatus();
    }
    Node reduce = node;
    reduce.op_type = node.op_type == "GlobalMaxPool" ? "ReduceMax" : "ReduceMean";
    reduce.opset = 13;
    std::vector<int64_t> axes;
    for (int64_t d = 2; d < static_cast<int64_t>(x.size()); ++d) axes.push_back(d);
    reduce.attrs = {{"axes", axes}, {"keepdims", int64_t{1}}};
    return EmitReduceNode(reduce, ctx);
  }
  TPUSIM_ASSIGN_OR_RETURN(PoolLayout l, Layout(node, x));
  const detail::PoolDims& p = l.p;
  const size_t k = p.in.size();
  if (NumElements(*io.out_shape) == 0) return absl::OkStatus();
  const bool is_max = node.op_type == "MaxPool";
  if (is_max && UseMergedMaxPool(p)) return EmitMergedMaxPool(node.name + "/merged", p, l.planes, io.in, io.out, ctx);

  // Image strides (elements) per spatial dim; the first window element of output 0 is image index 0.
  std::vector<uint64_t> image_strides(k + 1, 1);
  for (size_t d = k; d-- > 0;) image_strides[d] = image_strides[d + 1] * l.image[d];
  uint64_t image = io.in;
  if (l.padded) {
    TPUSIM_ASSIGN_OR_RETURN(image, ctx.Scratch(PaddedKey(node)));
    const uint64_t n = l.planes * image_strides[0];
    EmitFlat(ctx, VectorOp::Fill, {FlatOperand{image, false}}, image, n, is_max ? -INFINITY : 0.0f);
    std::vector<CopyDim> dims = {{l.planes, static_cast<int64_t>(NumElements(x) / static_cast<int64_t>(l.planes)),
                                  image_strides[0]}};
    const std::vector<uint64_t> in_strides = RowMajorStrides(Shape(x.begin() + 1, x.end()));
    uint64_t interior = 0;
    for (size_t d = 0; d < k; ++d) {
      dims.push_back({static_cast<uint64_t>(p.in[d]), static_cast<int64_t>(in_strides[d + 1]), image_strides[d + 1]});
      interior += static_cast<uint64_t>(p.pad_begin[d]) * image_strides[d + 1];
    }
    EmitStridedCopy(ctx, io.in, image + interior * kF32Bytes, dims);
  }
  std::vector<uint64_t> kernel_offsets;  // elements, row-major over the kernel
  {
    std::vector<int64_t> j(k, 0);
    while (true) {
      uint64_t off = 0;
      for (size_t d = 0; d < k; ++d) off += static_cast<uint64_t>(j[d] * p.dilation[d]) * image_strides[d + 1];
      kernel_offsets.push_back(off);
      size_t d = k;
      while (d > 0 && ++j[d - 1] == p.kernel[d - 1]) j[--d] = 0;
      if (d == 0) break;
    }
  }
  std::vector<TileDim> dims = {{l.planes, image_strides[0], 0, 0}};
  {
    std::vector<uint64_t> out_strides(k + 1, 1);
    for (size_t d = k; d-- > 0;) out_strides[d] = out_strides[d + 1] * static_cast<uint64_t>(p.out[d]);
    dims[0].out_stride = out_strides[0];
    for (size_t d = 0; d < k; ++d) {
      dims.push_back({static_cast<uint64_t>(p.out[d]), static_cast<uint64_t>(p.stride[d]) * image_strides[d + 1],
                      out_strides[d + 1], out_strides[d + 1]});
    }
  }
  std::optional<uint64_t> inv_counts;
  if (!l.uniform) {
    TPUSIM_ASSIGN_OR_RETURN(inv_counts, ctx.Scratch(InvCountKey(node)));
  }

  // UB: per slot a running tile and a window tile (under kTokens two slots, alternating per tile).
  const uint64_t L = ctx.lanes();
  const uint64_t slots = ctx.overlapped() ? 2 : 1;
  UbAllocator ub = ctx.NewUb();
  const uint64_t chunk_cap = std::min(ub.free() / (2 * slots), kMaxInstRows);
  TPUSIM_CHECK(chunk_cap >= 1, "EmitPoolNode: UB too small");
  size_t row = 0, lane = 1;
  uint64_t best = ~uint64_t{0};
  for (size_t r = 0; r < dims.size(); ++r) {
    for (size_t c = 0; c < dims.size(); ++c) {
      if (r == c) continue;
      const uint64_t tiles = (dims[r].size + chunk_cap - 1) / chunk_cap * ((dims[c].size + L - 1) / L) *
                             (l.planes * static_cast<uint64_t>(NumElements(Shape(p.out.begin(), p.out.end())))) /
                             (dims[r].size * dims[c].size);
      if (tiles < best) {
        best = tiles;
        row = r;
        lane = c;
      }
    }
  }
  const TileDim rows = dims[row], lanes = dims[lane];
  std::vector<TileDim> loops;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d != row && d != lane) loops.push_back(dims[d]);
  }
  const bool flat = UseFlatMax(node, l, best, chunk_cap, L);
  const uint64_t chunk = flat ? chunk_cap : std::min(chunk_cap, rows.size);
  std::vector<uint64_t> acc(slots), win(slots);
  for (uint64_t s = 0; s < slots; ++s) {
    acc[s] = ub.Take(chunk);
    win[s] = ub.Take(chunk);
  }
  if (flat) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t full, ctx.Scratch(FullKey(node)));
    EmitFlatMax(ctx, l, image, full, io.out, image_strides, kernel_offsets, chunk_cap, acc, win);
    return absl::OkStatus();
  }
  const VectorOp fold = is_max ? VectorOp::Max : VectorOp::Add;
  uint64_t& phase = ctx.stream_phase();
  ForEachIndex(loops, [&](uint64_t image_off, uint64_t out_off, uint64_t count_off) {
    for (uint64_t r0 = 0; r0 < rows.size; r0 += chunk) {
      for (uint64_t l0 = 0; l0 < lanes.size; l0 += L) {
        const uint64_t nr = std::min(chunk, rows.size - r0), nl = std::min(L, lanes.size - l0);
        const uint64_t slot = phase++ % slots;
        const uint64_t base = image_off + r0 * rows.image_stride + l0 * lanes.image_stride;
        for (size_t w = 0; w < kernel_offsets.size(); ++w) {
          const DramView view{image + (base + kernel_offsets[w]) * kF32Bytes, rows.image_stride, lanes.image_stride};
          ctx.Load(isa::DType::F32, view, w == 0 ? acc[slot] : win[slot], nr, nl);
          if (w > 0) ctx.Vector(fold, acc[slot], acc[slot], win[slot], nr);
        }
        if (!is_max && inv_counts.has_value()) {
          const uint64_t c = count_off + r0 * rows.count_stride + l0 * lanes.count_stride;
          ctx.Load(isa::DType::F32, {*inv_counts + c * kF32Bytes, rows.count_stride, lanes.count_stride}, win[slot], nr,
                   nl);
          ctx.Vector(VectorOp::Mul, acc[slot], acc[slot], win[slot], nr);
        } else if (!is_max) {
          ctx.Vector(VectorOp::MulImm, acc[slot], acc[slot], 0, nr, false, l.inv_count.front());
        }
        const uint64_t o = out_off + r0 * rows.out_stride + l0 * lanes.out_stride;
        ctx.Store(isa::DType::F32, {io.out + o * kF32Bytes, rows.out_stride, lanes.out_stride}, acc[slot], nr, nl);
      }
    }
  });
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
