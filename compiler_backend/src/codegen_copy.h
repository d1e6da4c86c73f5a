// Strided fp32 copies through the UB with the 2-D DMA: the one data-movement primitive behind
// Transpose, Concat, Slice and Expand. Built on codegen_vector's streaming (EmitVectorBlock, EmitFlat),
// so chunking, double buffering and token scheduling are theirs.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen_context.h"

namespace tpusim::compiler::codegen {

// One dimension of a copy, outermost first: `size` indices; per index the source advances src_stride
// elements (negative: backwards, for Slice's negative steps; 0: the same element, for Expand) and the
// destination dst_stride elements.
struct CopyDim {
  uint64_t size = 1;
  int64_t src_stride = 0;
  uint64_t dst_stride = 0;
};

// dst(i) = src(i) for every multi-index i of `dims` (fp32). src and dst are the frame byte addresses of
// index (0, ..., 0); every element the copy reads or writes must lie in the frame.
//
// Plan: size-1 dims are dropped and neighbours that are linear in both source and destination merge.
// Up to two dims with non-negative source strides become each DMA's rows and lanes (the DMA's strides
// are unsigned); the rest, including every backwards dim, are loops that emit one block per index, so
// a copy whose dims all run backwards moves one element per DMA. The pair chosen is the one with the
// fewest LOADs (every DMA pays the DRAM latency; innermost dims win ties); a last dim contiguous on
// both sides may instead stream as full UB rows (EmitFlat) when that needs fewer.
void EmitStridedCopy(CodegenContext& ctx, uint64_t src, uint64_t dst, std::vector<CopyDim> dims);

// Row-major element strides of `shape`.
std::vector<uint64_t> RowMajorStrides(const Shape& shape);

}  // namespace tpusim::compiler::codegen
