// Account (accounting.h): buckets by a sweep over recorded intervals, never a loop over cycles.
#include "accounting.h"

#include <algorithm>
#include <array>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tpusim::simulator::cycle {
namespace {

// In priority order: a cycle goes to the first bucket whose intervals cover it, else to idle.
enum Bucket { kActive, kWeightLoad, kWeightShift, kInput, kNonMatrix, kSync, kNumBuckets };

struct Edge {
  uint64_t at;
  int bucket;
  int delta;  // +1 opens an interval, -1 closes one
};

void AddInterval(std::vector<Edge>& edges, uint64_t begin, uint64_t end, int bucket) {
  if (begin >= end || begin == kNever) return;
  edges.push_back({begin, bucket, +1});
  edges.push_back({end, bucket, -1});
}

CycleBuckets Sweep(std::vector<Edge> edges, uint64_t cycles) {
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.at < b.at; });
  std::array<uint64_t, kNumBuckets> sum{};
  std::array<int64_t, kNumBuckets> open{};
  uint64_t prev = 0;
  for (size_t e = 0; e < edges.size();) {
    const uint64_t at = std::min(edges[e].at, cycles);
    if (at > prev) {
      for (int b = 0; b < kNumBuckets; ++b) {
        if (open[b] > 0) {
          sum[b] += at - prev;
          break;
        }
      }
      prev = at;
    }
    const uint64_t group = edges[e].at;
    for (; e < edges.size() && edges[e].at == group; ++e) open[edges[e].bucket] += edges[e].delta;
  }
  CycleBuckets out;
  out.active = sum[kActive];
  out.weight_load_stall = sum[kWeightLoad];
  out.weight_shift = sum[kWeightShift];
  out.input_stall = sum[kInput];
  out.non_matrix = sum[kNonMatrix];
  out.sync_wait = sum[kSync];
  out.idle = cycles - (out.active + out.weight_load_stall + out.weight_shift + out.input_stall +
                       out.non_matrix + out.sync_wait);
  return out;
}

// The trace track of an instruction whose unit is `unit`: matrix unit 0 keeps "MXU", unit k >= 1
// is "MXU k".
std::string TrackOf(const isa::Instruction& inst, const char* unit) {
  if (inst.opcode == isa::Opcode::MATMUL) {
    const uint64_t mxu = std::get<isa::MatmulArgs>(inst.args).mxu;
    if (mxu > 0) return absl::StrCat(unit, " ", mxu);
  }
  return unit;
}

}  // namespace

void Account(const Job& job, bool collect_trace, RunStats& stats) {
  const TimingParams& p = job.params;
  const uint64_t cycles = job.cycles;
  const auto& code = job.code;
  const isa::Program* program = job.launch.program;
  const bool attribute = program != nullptr && program->inst_op_size() > 0;
  std::vector<uint64_t> op_first(attribute ? program->op_names_size() : 0, kNever);
  std::vector<uint64_t> op_last(op_first.size(), 0);
  std::vector<Edge> edges;
  // Scanning backwards: per matrix unit, the start of the next MATMUL on it.
  std::vector<uint64_t> next_matmul_start(job.state.mxu.size(), kNever);
  if (collect_trace) stats.trace.clear();
  std::vector<TraceSlice> reversed;

  for (size_t n = code.size(); n-- > 0;) {
    const isa::Instruction& inst = code[n];
    const InstTimes& t = job.times[n];
    if (t.start == kNever || t.end == kNever) continue;  // never ran (after HALT), or HALT
    uint64_t begin = t.start, end = t.end;
    switch (inst.opcode) {
      case isa::Opcode::MATMUL: {
        const auto& a = std::get<isa::MatmulArgs>(inst.args);
        AddInterval(edges, t.start, t.end, kActive);
        if (a.pop_weights) {
          // Waiting for its tile: first for the DRAM transfer, then for the shift.
          const uint32_t tile = job.popped_tile[n];
          const uint64_t arrival = tile < job.tile_arrival.size() ? job.tile_arrival[tile] : 0;
          AddInterval(edges, t.ready, std::min(t.start, arrival), kWeightLoad);
          AddInterval(edges, std::max(t.ready, arrival), t.start, kWeightShift);
        }
        stats.ub_to_array_bytes += a.rows * p.rows * 4;
        stats.accumulator_bytes += a.rows * p.cols * 4;
        if (a.mxu < next_matmul_start.size()) {  // a unit's MXU slices never overlap
          end = std::min(t.end, next_matmul_start[a.mxu]);
          next_matmul_start[a.mxu] = t.start;
        }
        break;
      }
      case isa::Opcode::WAIT:
        if (std::get<isa::TokenArgs>(inst.args).queue == static_cast<uint64_t>(isa::Queue::Compute)) {
          AddInterval(edges, t.ready, t.start, kInput);
        }
        break;
      case isa::Opcode::ACTIVATE:
        stats.accumulator_bytes += std::get<isa::ActivateArgs>(inst.args).rows * p.cols * 4;
        AddInterval(edges, t.start, t.end, kNonMatrix);
        break;
      case isa::Opcode::VECTOR:
        AddInterval(edges, t.start, t.end, kNonMatrix);
        break;
      case isa::Opcode::SYNC:
        begin = t.ready;
        AddInterval(edges, t.ready, t.end, kSync);
        break;
      default:
        break;
    }
    if (attribute && n < static_cast<size_t>(program->inst_op_size())) {
      const size_t op = program->inst_op(static_cast<int>(n));
      if (op < op_first.size()) {
        op_first[op] = std::min(op_first[op], t.start);
        op_last[op] = std::max(op_last[op], t.end);
      }
    }
    const char* unit = TraceUnitOf(inst.opcode);
    if (collect_trace && unit != nullptr) {
      reversed.push_back(TraceSlice{TrackOf(inst, unit), static_cast<uint32_t>(n), begin, end});
    }
  }
  stats.cycles = cycles;
  stats.buckets = Sweep(std::move(edges), cycles);
  stats.op_cycles.assign(op_first.size(), 0);
  for (size_t op = 0; op < op_first.size(); ++op) {
    if (op_first[op] != kNever) stats.op_cycles[op] = op_last[op] - op_first[op];
  }
  if (collect_trace) stats.trace.assign(reversed.rbegin(), reversed.rend());
}

}  // namespace tpusim::simulator::cycle
