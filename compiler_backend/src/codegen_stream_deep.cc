// Deep streams (codegen_stream_deep.h).
//
// Rows are the flattened multi-index over every dim but the last; chunk c covers rows [c * chunk,
// (c + 1) * chunk) in UB slot (phase + c) % kDeepSlots. For each tensor, a "run" is the largest block
// of consecutive rows whose addresses advance by one constant stride (the innermost row dims that
// merge linearly); a chunk's rows are moved by one DMA per run piece they cover. Every DMA reads or
// writes exactly the elements its piece covers, so the token scheduler (schedule_tokens.cc) orders
// the slot reuse (a LOAD after the STORE that last read the slot) and every DRAM hazard as usual.
#include "codegen_stream_deep.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// A tensor's row structure: rows [k * run, (k + 1) * run) are linear with stride run_stride.
struct RowMap {
  uint64_t addr = 0;
  std::vector<uint64_t> sizes;    // row dims
  std::vector<int64_t> strides;   // row dims
  int64_t lane_stride = 0;
  uint64_t run = 1;
  int64_t run_stride = 0;
  uint64_t RowAddr(uint64_t u) const {
    int64_t off = 0;
    for (size_t d = sizes.size(); d-- > 0;) {
      off += static_cast<int64_t>(u % sizes[d]) * strides[d];
      u /= sizes[d];
    }
    return addr + static_cast<uint64_t>(off) * kF32Bytes;
  }
};

RowMap MapOf(const DeepTensor& t, const std::vector<uint64_t>& sizes) {
  RowMap m;
  m.addr = t.addr;
  m.sizes.assign(sizes.begin(), sizes.end() - 1);
  m.strides.assign(t.strides.begin(), t.strides.end() - 1);
  m.lane_stride = t.strides.back();
  if (m.sizes.empty()) return m;
  m.run = m.sizes.back();
  m.run_stride = m.strides.back();
  for (size_t d = m.sizes.size() - 1; d-- > 0;) {
    if (m.strides[d] != m.run_stride * static_cast<int64_t>(m.run)) break;
    m.run *= m.sizes[d];
  }
  return m;
}

// Size-1 dims dropped, neighbours linear in every tensor merged, and a last dim wider than `lanes`
// split by its largest divisor <= lanes (false: none of at least 8).
bool Normalize(DeepStream& s, uint64_t lanes) {
  const size_t nt = s.in.size() + 1;
  auto tensor = [&](size_t i) -> DeepTensor& { return i < s.in.size() ? s.in[i] : s.out; };
  std::vector<uint64_t> sizes;
  std::vector<std::vector<int64_t>> strides(nt);
  for (size_t d = 0; d < s.sizes.size(); ++d) {
    if (s.sizes[d] == 1) continue;
    bool merge = !sizes.empty();
    for (size_t i = 0; merge && i < nt; ++i) {
      merge = strides[i].back() == tensor(i).strides[d] * static_cast<int64_t>(s.sizes[d]);
    }
    if (merge) {
      sizes.back() *= s.sizes[d];
      for (size_t i = 0; i < nt; ++i) strides[i].back() = tensor(i).strides[d];
      continue;
    }
    sizes.push_back(s.sizes[d]);
    for (size_t i = 0; i < nt; ++i) strides[i].push_back(tensor(i).strides[d]);
  }
  if (sizes.empty()) {
    sizes.push_back(1);
    for (auto& st : strides) st.push_back(1);
  }
  if (sizes.back() > lanes) {
    const uint64_t n = sizes.back();
    uint64_t div = lanes;
    while (div >= 8 && n % div != 0) --div;
    if (div < 8) return false;
    sizes.back() = n / div;
    sizes.push_back(div);
    for (auto& st : strides) st.push_back(st.back()), st[st.size() - 2] *= static_cast<int64_t>(div);
  }
  for (auto& st : strides) {
    for (int64_t v : st) {
      if (v < 0 || v > static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) return false;
    }
  }
  // The row dims in the order that needs the fewest DMAs (sum over tensors of rows / run): e.g. a
  // padded copy of many small channels moves one image row of every channel per DMA, not one channel.
  const size_t row_dims = sizes.size() - 1;
  std::vector<size_t> order(row_dims), best;
  for (size_t d = 0; d < row_dims; ++d) order[d] = d;
  uint64_t best_cost = std::numeric_limits<uint64_t>::max(), total = 1;
  for (size_t d = 0; d < row_dims; ++d) total *= sizes[d];
  if (row_dims <= 5) {
    do {
      uint64_t cost = 0;
      for (size_t i = 0; i < nt; ++i) {
        uint64_t run = 1;
        int64_t run_stride = 0;
        for (size_t k = row_dims; k-- > 0;) {
          const size_t d = order[k];
          if (k + 1 == row_dims) {
            run = sizes[d], run_stride = strides[i][d];
          } else if (strides[i][d] == run_stride * static_cast<int64_t>(run)) {
            run *= sizes[d];
          } else {
            break;
          }
        }
        cost += total / run;
      }
      if (cost < best_cost) best_cost = cost, best = order;
    } while (std::next_permutation(order.begin(), order.end()));
    order = best;
  }
  s.sizes.clear();
  for (size_t d : order) s.sizes.push_back(sizes[d]);
  s.sizes.push_back(sizes.back());
  for (size_t i = 0; i < nt; ++i) {
    std::vector<int64_t>& st = tensor(i).strides;
    st.clear();
    for (size_t d : order) st.push_back(strides[i][d]);
    st.push_back(strides[i].back());
  }
  return true;
}

// Moves rows [u0, u0 + n) of `m` to or from UB row `ub` (+ u - u0): one DMA per run piece.
void Move(CodegenContext& ctx, bool load, const RowMap& m, uint64_t u0, uint64_t n, uint64_t ub, uint64_t lanes) {
  for (uint64_t u = u0; u < u0 + n;) {
    const uint64_t piece = std::min(u0 + n - u, m.run - u % m.run);
    const DramView v{m.RowAddr(u), static_cast<uint64_t>(m.run_stride), static_cast<uint64_t>(m.lane_stride)};
    if (load) {
      ctx.Load(isa::DType::F32, v, ub + (u - u0), piece, lanes);
    } else {
      ctx.Store(isa::DType::F32, v, ub + (u - u0), piece, lanes);
    }
    u += piece;
  }
}

}  // namespace

bool EmitDeepStreams(CodegenContext& ctx, const std::vector<DeepStream>& streams) {
  if (!ctx.overlapped() || streams.empty()) return false;
  const DeepStream& head = streams.front();
  const uint64_t ops = head.in.size();
  TPUSIM_CHECK(ops >= 1 && ops <= 2, "EmitDeepStream: one or two operands");
  TPUSIM_CHECK(ops == 1 || (head.op.has_value() && isa::VectorOpArity(*head.op) == isa::VectorArity::Binary),
               "EmitDeepStream: two operands need a binary op");
  // Per stream: its row maps (operands, then the output), lanes and first global row.
  struct Part {
    std::vector<RowMap> maps;
    uint64_t lanes = 0, first = 0, rows = 0;
  };
  std::vector<Part> parts;
  uint64_t total = 0, max_lanes = 1;
  for (const DeepStream& stream : streams) {
    TPUSIM_CHECK(stream.in.size() == ops && stream.op == head.op, "EmitDeepStreams: streams differ in their op");
    bool empty = false;
    for (uint64_t n : stream.sizes) empty = empty || n == 0;
    if (empty) continue;
    DeepStream s = stream;
    for (const DeepTensor& t : s.in) TPUSIM_CHECK(t.strides.size() == s.sizes.size(), "EmitDeepStream: rank");
    TPUSIM_CHECK(s.out.strides.size() == s.sizes.size(), "EmitDeepStream: rank");
    if (!Normalize(s, ctx.lanes())) return false;
    Part part;
    for (const DeepTensor& t : s.in) part.maps.push_back(MapOf(t, s.sizes));
    part.maps.push_back(MapOf(s.out, s.sizes));
    part.lanes = s.sizes.back();
    part.first = total;
    part.rows = 1;
    for (size_t d = 0; d + 1 < s.sizes.size(); ++d) part.rows *= s.sizes[d];
    total += part.rows;
    max_lanes = std::max(max_lanes, part.lanes);
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return true;

  // Chunks: at least what the DRAM moves in one latency (so that the one SIGNAL a chunk may need in a
  // DMA queue, which holds it for a latency, costs at most as much as the transfer), about a quarter
  // of the stream (so that loads, vector work and stores overlap), at most what kDeepSlots slots hold.
  const isa::ArchConfig& arch = ctx.arch();
  const double bw = arch.dram_bandwidth_gbps() * 1000.0 / std::max(1.0, static_cast<double>(arch.clock_mhz()));
  const uint64_t latency_rows = static_cast<uint64_t>(
      std::ceil(static_cast<double>(arch.dram_latency_cycles()) * bw / static_cast<double>(max_lanes * kF32Bytes)));
  const uint64_t cap = std::min(kMaxInstRows, ctx.ub_rows() / (kDeepSlots * ops));
  TPUSIM_CHECK(cap >= 1, "EmitDeepStream: UB too small");
  const uint64_t chunk = std::min({total, cap, std::max<uint64_t>(latency_rows, CeilDiv(total, 4))});
  UbAllocator ub = ctx.NewUb();
  std::vector<std::vector<uint64_t>> slot_rows(kDeepSlots);
  for (uint64_t slot = 0; slot < kDeepSlots; ++slot) {
    for (uint64_t i = 0; i < ops; ++i) slot_rows[slot].push_back(ub.Take(chunk));
  }
  // Global rows [u0, u0 + n) of map `m` (0..ops-1: operands, ops: output) to or from the slot.
  auto move = [&](bool load, size_t m, uint64_t u0, uint64_t n, uint64_t ub_row) {
    for (const Part& part : parts) {
      const uint64_t lo = std::max(u0, part.first), hi = std::min(u0 + n, part.first + part.rows);
      if (lo < hi) Move(ctx, load, part.maps[m], lo - part.first, hi - lo, ub_row + (lo - u0), part.lanes);
    }
  };
  const uint64_t chunks = CeilDiv(total, chunk);
  const uint64_t phase = ctx.stream_phase();
  ctx.stream_phase() += chunks;
  auto rows_of = [&](uint64_t c) -> const std::vector<uint64_t>& { return slot_rows[(phase + c) % kDeepSlots]; };
  auto load = [&](uint64_t c) {
    const uint64_t u0 = c * chunk, n = std::min(chunk, total - u0);
    for (uint64_t i = 0; i < ops; ++i) move(true, i, u0, n, rows_of(c)[i]);
  };
  // Loads run kDeepAhead chunks ahead of their STOREs, so one token covers several chunks.
  for (uint64_t c = 0; c < std::min(chunks, kDeepAhead + 1); ++c) load(c);
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t u0 = c * chunk, n = std::min(chunk, total - u0);
    const std::vector<uint64_t>& rows = rows_of(c);
    if (head.op.has_value()) ctx.Vector(*head.op, rows[0], rows[0], ops == 2 ? rows[1] : rows[0], n, false, head.imm);
    for (const VectorStep& step : head.then) ctx.Vector(step.op, rows[0], rows[0], rows[0], n, false, step.imm);
    move(false, ops, u0, n, rows[0]);
    if (c + kDeepAhead + 1 < chunks) load(c + kDeepAhead + 1);
  }
  return true;
}

bool EmitDeepStream(CodegenContext& ctx, const DeepStream& s) { return EmitDeepStreams(ctx, {s}); }

void EmitDeepCopy(CodegenContext& ctx, uint64_t src, uint64_t dst, const std::vector<CopyDim>& dims) {
  DeepStream s;
  s.in.resize(1);
  s.in[0].addr = src;
  s.out.addr = dst;
  for (const CopyDim& d : dims) {
    s.sizes.push_back(d.size);
    s.in[0].strides.push_back(d.src_stride);
    s.out.strides.push_back(static_cast<int64_t>(d.dst_stride));
  }
  if (!EmitDeepStream(ctx, s)) EmitStridedCopy(ctx, src, dst, dims);
}

void EmitDeepFlatCopy(CodegenContext& ctx, uint64_t src, uint64_t dst, uint64_t n) {
  const uint64_t L = ctx.lanes(), full = n / L;
  if (full > 0) EmitDeepCopy(ctx, src, dst, {{full, static_cast<int64_t>(L), L}, {L, 1, 1}});
  if (n % L != 0) EmitDeepCopy(ctx, src + full * L * kF32Bytes, dst + full * L * kF32Bytes, {{n % L, 1, 1}});
}

void EmitDeepVectorBlock(CodegenContext& ctx, const VectorBlock& block) {
  DeepStream s;
  s.sizes = {block.rows, block.lanes};
  for (const DramView& v : block.in) {
    s.in.push_back({v.addr, {static_cast<int64_t>(v.row_stride), static_cast<int64_t>(v.lane_stride)}});
  }
  s.out = {block.out.addr, {static_cast<int64_t>(block.out.row_stride), static_cast<int64_t>(block.out.lane_stride)}};
  s.op = block.op;
  s.imm = block.imm;
  s.then = block.then;
  if (!EmitDeepStream(ctx, s)) EmitVectorBlock(ctx, block);
}

}  // namespace tpusim::compiler::codegen
