// Dependency-token placement (tpusim/compiler_backend/schedule_tokens.h).
#include "tpusim/compiler_backend/schedule_tokens.h"

#include <algorithm>
#include <iterator>
#include <optional>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

size_t ElementBytes(uint64_t dtype_code) {
  std::optional<isa::DType> t = isa::DTypeFromCode(dtype_code);
  return t.has_value() ? isa::DTypeBytes(*t) : 4;  // unknown: the widest type, conservatively
}

// Bounding byte interval of element (r, l), r < rows, l < cols, at addr + (r*rs + l*ls) * bytes.
// Field widths (48-bit addr, 16-bit counts, 32-bit strides) keep this far from overflow.
Range DramBox(uint64_t addr, uint64_t rows, uint64_t cols, uint64_t row_stride, uint64_t col_stride,
              size_t bytes) {
  if (rows == 0 || cols == 0) return {Space::kDram, addr, addr};
  const uint64_t last = ((rows - 1) * row_stride + (cols - 1) * col_stride) * bytes;
  return {Space::kDram, addr, addr + last + bytes};
}

Range Rows(Space s, uint64_t first, uint64_t count) { return {s, first, first + count}; }

void AddRead(Accesses& a, Range r) {
  TPUSIM_CHECK(a.num_reads < Accesses::kMaxReads, "AccessesOf: too many reads");
  if (r.begin < r.end) a.reads[a.num_reads++] = r;
}
void AddWrite(Accesses& a, Range r) {
  TPUSIM_CHECK(a.num_writes < Accesses::kMaxWrites, "AccessesOf: too many writes");
  if (r.begin < r.end) a.writes[a.num_writes++] = r;
}

size_t QueueIndex(isa::Queue q) {
  TPUSIM_CHECK(q != isa::Queue::Control, "token scheduler: control queue has no index");
  return static_cast<size_t>(q);
}

isa::Instruction Token(isa::Opcode op, size_t queue, uint64_t channel) {
  isa::TokenArgs a;
  a.queue = queue;
  a.channel = channel;
  return isa::Make(op, a);
}

}  // namespace

// The field -> resource mapping of every instruction (semantics in opcodes.def).
Accesses AccessesOf(const isa::Instruction& inst) {
  Accesses acc;
  switch (inst.opcode) {
    case isa::Opcode::LOAD: {
      const auto& a = inst.as<isa::DmaArgs>();
      AddRead(acc, DramBox(a.dram_addr, a.rows, a.lanes, a.row_stride, a.lane_stride, ElementBytes(a.dtype)));
      AddWrite(acc, Rows(Space::kUb, a.ub_row, a.rows));  // whole rows: lanes >= `lanes` are zeroed
      break;
    }
    case isa::Opcode::STORE: {
      const auto& a = inst.as<isa::DmaArgs>();
      AddRead(acc, Rows(Space::kUb, a.ub_row, a.rows));
      AddWrite(acc, DramBox(a.dram_addr, a.rows, a.lanes, a.row_stride, a.lane_stride, ElementBytes(a.dtype)));
      break;
    }
    case isa::Opcode::LOAD_WEIGHTS: {
      const auto& a = inst.as<isa::WeightsArgs>();
      AddRead(acc, DramBox(a.dram_addr, a.rows, a.cols, a.row_stride, a.col_stride, ElementBytes(a.dtype)));
      break;  // writes the weight FIFO, which the hardware orders
    }
    case isa::Opcode::MATMUL: {
      const auto& a = inst.as<isa::MatmulArgs>();
      AddRead(acc, Rows(Space::kUb, a.ub_row, a.rows));
      if (a.accumulate != 0) AddRead(acc, Rows(Space::kAcc, a.acc_row, a.rows));
      AddWrite(acc, Rows(Space::kAcc, a.acc_row, a.rows));
      break;
    }
    case isa::Opcode::ACTIVATE: {
      const auto& a = inst.as<isa::ActivateArgs>();
      AddRead(acc, Rows(Space::kAcc, a.acc_row, a.rows));
      if (a.has_bias != 0) AddRead(acc, Rows(Space::kUb, a.bias_row, 1));
      AddWrite(acc, Rows(Space::kUb, a.ub_row, a.rows));
      break;
    }
    case isa::Opcode::VECTOR: {
      const auto& a = inst.as<isa::VectorArgs>();
      std::optional<isa::VectorOp> op = isa::VectorOpFromCode(a.op);
      // An unknown op is treated as the widest shape: binary, full rows (conservative).
      const isa::VectorArity arity = op.has_value() ? isa::VectorOpArity(*op) : isa::VectorArity::Binary;
      AddRead(acc, Rows(Space::kUb, a.a_row, a.rows));
      if (arity == isa::VectorArity::Binary) AddRead(acc, Rows(Space::kUb, a.b_row, a.b_bcast != 0 ? 1 : a.rows));
      AddWrite(acc, Rows(Space::kUb, a.dst_row, arity == isa::VectorArity::Reduce ? 1 : a.rows));
      break;
    }
    case isa::Opcode::SIGNAL:
    case isa::Opcode::WAIT:
    case isa::Opcode::SYNC:
    case isa::Opcode::HALT:
      break;
  }
  return acc;
}

uint64_t TokenChannel(isa::Queue from, isa::Queue to) {
  TPUSIM_CHECK(from != to, "TokenChannel: a queue needs no token to itself");
  return 4 * QueueIndex(from) + QueueIndex(to);
}

// ---- LastAccessMap --------------------------------------------------------------------------------

uint64_t LastAccessMap::Latest(uint64_t begin, uint64_t end) const {
  if (begin >= end) return 0;
  auto it = segments_.upper_bound(begin);
  if (it != segments_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.first > begin) it = prev;
  }
  uint64_t latest = 0;
  for (; it != segments_.end() && it->first < end; ++it) latest = std::max(latest, it->second.second);
  return latest;
}

void LastAccessMap::Record(uint64_t begin, uint64_t end, uint64_t seq) {
  if (begin >= end) return;
  // Splits the segment straddling `pos` (if any) so that a segment starts at pos.
  auto split = [&](uint64_t pos) {
    auto it = segments_.upper_bound(pos);
    if (it == segments_.begin()) return;
    auto prev = std::prev(it);
    const auto [seg_end, seg_seq] = prev->second;
    if (prev->first < pos && seg_end > pos) {
      prev->second.first = pos;
      segments_.emplace(pos, std::make_pair(seg_end, seg_seq));
    }
  };
  split(begin);
  split(end);
  segments_.erase(segments_.lower_bound(begin), segments_.lower_bound(end));
  segments_.emplace(begin, std::make_pair(end, seq));
}

// ---- TokenScheduler -------------------------------------------------------------------------------

TokenScheduler::TokenScheduler() = default;

uint64_t TokenScheduler::LatestConflict(size_t p, const Accesses& acc) const {
  uint64_t latest = 0;
  for (size_t i = 0; i < acc.num_reads; ++i) {  // RAW
    const Range& r = acc.reads[i];
    latest = std::max(latest, last_write_[p][static_cast<size_t>(r.space)].Latest(r.begin, r.end));
  }
  for (size_t i = 0; i < acc.num_writes; ++i) {  // WAW, WAR
    const Range& w = acc.writes[i];
    latest = std::max(latest, last_write_[p][static_cast<size_t>(w.space)].Latest(w.begin, w.end));
    latest = std::max(latest, last_read_[p][static_cast<size_t>(w.space)].Latest(w.begin, w.end));
  }
  return latest;
}

TokenScheduler::Snapshot TokenScheduler::SignalSnapshot(size_t from) const {
  Snapshot s{};
  for (size_t r = 0; r < kQueues; ++r) s[r] = r == from ? last_seq_[from] : covered_[r][from];
  return s;
}

TokenScheduler::Snapshot TokenScheduler::SnapshotAfter(uint64_t seq) const {
  Snapshot s = covered_at_seq_[seq];
  s[queue_of_seq_[seq]] = seq;
  return s;
}

// In a DMA queue a SIGNAL goes right after the DMA depended on: since timing contract version 4 it
// does not hold its queue (docs/timing.md rule 7), so a later place would only delay its waiter.
uint64_t TokenScheduler::SignalPoint(size_t p, uint64_t y) const {
  if (p != static_cast<size_t>(isa::Queue::Compute)) return y;
  const size_t i = static_cast<size_t>(std::lower_bound(compute_seqs_.begin(), compute_seqs_.end(), y) -
                                       compute_seqs_.begin());
  TPUSIM_CHECK(i < compute_seqs_.size() && compute_seqs_[i] == y, "token scheduler: unknown compute instruction");
  auto it = compute_free_points_.lower_bound(i);
  return it != compute_free_points_.end() ? compute_seqs_[*it] : compute_seqs_.back();
}

void TokenScheduler::ApplyWait(const Snapshot& s, size_t to) {
  for (size_t r = 0; r < kQueues; ++r) {
    if (r != to) covered_[r][to] = std::max(covered_[r][to], s[r]);
  }
}

TokenPlacement TokenScheduler::Schedule(const isa::Instruction& inst) {
  TokenPlacement placement;
  switch (inst.opcode) {
    case isa::Opcode::HALT:
      return placement;
    case isa::Opcode::SYNC:
      for (size_t p = 0; p < kQueues; ++p) {
        for (size_t q = 0; q < kQueues; ++q) covered_[p][q] = last_seq_[p];
      }
      return placement;
    case isa::Opcode::SIGNAL:
    case isa::Opcode::WAIT: {  // hand-placed: matched per channel in FIFO order
      const auto& a = inst.as<isa::TokenArgs>();
      std::optional<isa::Queue> queue = isa::QueueFromCode(a.queue);
      if (!queue.has_value() || *queue == isa::Queue::Control) return placement;  // the engine reports it
      const size_t q = QueueIndex(*queue);
      std::deque<Snapshot>& fifo = hand_tokens_[a.channel];
      if (inst.opcode == isa::Opcode::SIGNAL) {
        fifo.push_back(SignalSnapshot(q));
      } else if (!fifo.empty()) {
        ApplyWait(fifo.front(), q);
        fifo.pop_front();
      }
      return placement;
    }
    default:
      break;
  }

  const Accesses acc = AccessesOf(inst);
  const size_t q = QueueIndex(isa::QueueOf(inst.opcode));
  std::array<uint64_t, kQueues> need{};
  for (size_t p = 0; p < kQueues; ++p) need[p] = p == q ? 0 : LatestConflict(p, acc);
  auto pending = [&](size_t p) { return p != q && need[p] > covered_[p][q]; };
  for (;;) {
    // Prefer the queue whose token also covers the other pending queue transitively (one pair, not two).
    size_t best = kQueues;
    int best_score = -1;
    for (size_t p = 0; p < kQueues; ++p) {
      if (!pending(p)) continue;
      const Snapshot s = SnapshotAfter(SignalPoint(p, need[p]));
      int score = 0;
      for (size_t r = 0; r < kQueues; ++r) {
        if (r != p && pending(r) && s[r] >= need[r]) ++score;
      }
      if (score > best_score) best = p, best_score = score;
    }
    if (best == kQueues) break;
    const uint64_t channel = TokenChannel(static_cast<isa::Queue>(best), static_cast<isa::Queue>(q));
    const uint64_t point = SignalPoint(best, need[best]);
    placement.signals_after.emplace_back(point, Token(isa::Opcode::SIGNAL, best, channel));
    placement.waits.push_back(Token(isa::Opcode::WAIT, q, channel));
    ApplyWait(SnapshotAfter(point), q);
    ++tokens_placed_;
  }

  const uint64_t seq = next_seq_++;
  for (size_t i = 0; i < acc.num_reads; ++i) {
    const Range& r = acc.reads[i];
    last_read_[q][static_cast<size_t>(r.space)].Record(r.begin, r.end, seq);
  }
  for (size_t i = 0; i < acc.num_writes; ++i) {
    const Range& w = acc.writes[i];
    last_write_[q][static_cast<size_t>(w.space)].Record(w.begin, w.end, seq);
  }
  last_seq_[q] = seq;
  if (q == static_cast<size_t>(isa::Queue::Compute)) {
    const size_t i = compute_seqs_.size();
    compute_seqs_.push_back(seq);
    if (inst.opcode != isa::Opcode::MATMUL) {
      compute_free_points_.insert(i);
      if (i > 0) compute_free_points_.insert(i - 1);
    }
  }
  queue_of_seq_.push_back(static_cast<uint8_t>(q));
  Snapshot covered_now{};
  for (size_t r = 0; r < kQueues; ++r) covered_now[r] = covered_[r][q];
  covered_at_seq_.push_back(covered_now);
  placement.seq = seq;
  return placement;
}

// ---- TokenStream ----------------------------------------------------------------------------------

void TokenStream::Append(isa::Instruction inst, uint32_t tag) {
  TokenPlacement placement = scheduler_.Schedule(inst);
  for (auto& [seq, signal] : placement.signals_after) {
    after_[index_of_seq_[seq]].push_back(std::move(signal));
    ++inserted_;
  }
  for (isa::Instruction& wait : placement.waits) {
    code_.push_back(std::move(wait));
    tags_.push_back(tag);
  }
  if (placement.seq != 0) {
    TPUSIM_CHECK(placement.seq == index_of_seq_.size(), "TokenStream: sequence numbers out of step");
    index_of_seq_.push_back(code_.size());
  }
  code_.push_back(std::move(inst));
  tags_.push_back(tag);
}

void TokenStream::Finish(std::vector<isa::Instruction>& code, std::vector<uint32_t>& tags) {
  code.clear();
  tags.clear();
  code.reserve(size());
  tags.reserve(size());
  for (size_t i = 0; i < code_.size(); ++i) {
    code.push_back(std::move(code_[i]));
    tags.push_back(tags_[i]);
    if (auto it = after_.find(i); it != after_.end()) {
      for (isa::Instruction& signal : it->second) {
        code.push_back(std::move(signal));
        tags.push_back(tags_[i]);
      }
    }
  }
  *this = TokenStream();
}

std::vector<isa::Instruction> ScheduleTokens(const std::vector<isa::Instruction>& code) {
  TokenStream stream;
  for (const isa::Instruction& inst : code) stream.Append(inst, 0);
  std::vector<isa::Instruction> out;
  std::vector<uint32_t> tags;
  stream.Finish(out, tags);
  return out;
}

}  // namespace tpusim::compiler::codegen
