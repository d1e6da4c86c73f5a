// Dependency tokens between the decoupled load, compute and store queues (VTA-style access/execute).
// Codegen's kTokens schedule (CompileOptions::schedule) runs every instruction it emits through a
// TokenScheduler, which places SIGNAL/WAIT pairs only where program order must be enforced across
// queues. Public so that tests and tools can schedule hand-written instruction streams too.
//
// The rule. Each queue runs in program order (docs/timing.md rule 2), so only cross-queue pairs need
// tokens. Before instruction X of queue q, for each other queue p, let Y be the latest earlier
// p-instruction that conflicts with X (RAW, WAR or WAW on a UB row, an accumulator row or a DRAM byte).
// If Y is not yet ordered before q, place
//     SIGNAL queue=p channel=TokenChannel(p, q)    right after Y, and
//     WAIT   queue=q channel=TokenChannel(p, q)    right before X.
// The SIGNAL completes once Y and every p-instruction before it have, so from then on all of them are
// "covered" for q: later conflicts with them need no token. Coverage is transitive (q inherits what p
// had been ordered after when Y was issued), and a SYNC covers everything. Putting the SIGNAL right
// after Y rather than right before X releases the waiter as early as possible (X waits for what it
// needs, not for everything p was given meanwhile). One exception: a SIGNAL on the compute queue
// drains the array (it completes only when every earlier MATMUL has), so between two MATMULs it
// costs the pipeline's fill (R + C - 2 cycles). There the SIGNAL goes to the first later point where
// the queue drains anyway (after an ACTIVATE/VECTOR or the MATMUL before one); failing that, after the
// last compute instruction given so far, where it covers the most and later conflicts need no token.
// One channel per ordered queue pair; both queues
// are in order and coverage only grows, so the k-th WAIT of a channel takes the k-th SIGNAL's token;
// every SIGNAL precedes its WAIT in program order, so in program order every WAIT finds its token and
// the stream cannot deadlock. The weight FIFO is not a tracked resource: the hardware orders
// LOAD_WEIGHTS pushes and MATMUL pops and bounds the FIFO (docs/timing.md rule 4); the DRAM bytes
// LOAD_WEIGHTS reads are tracked like any other read.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "tpusim/isa/instruction.h"

namespace tpusim::compiler::codegen {

// The storage an instruction reads or writes: UB rows, accumulator rows, DRAM bytes (frame offsets).
enum class Space : uint8_t { kUb, kAcc, kDram };
inline constexpr size_t kNumSpaces = 3;

// [begin, end) in the space's units (rows, or bytes for DRAM). Empty when begin == end.
struct Range {
  Space space = Space::kUb;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Every range an instruction reads and writes, from its fields (opcodes.def). A strided DMA is
// represented by the bounding interval of the bytes it touches (conservative). Control instructions
// (SIGNAL, WAIT, SYNC, HALT) touch nothing.
struct Accesses {
  static constexpr size_t kMaxReads = 3, kMaxWrites = 1;
  std::array<Range, kMaxReads> reads{};
  size_t num_reads = 0;
  std::array<Range, kMaxWrites> writes{};
  size_t num_writes = 0;
};
Accesses AccessesOf(const isa::Instruction& inst);

// The token channel that carries "queue `from` has reached here" to queue `to` (from != to, neither
// Control): 4 * from + to, so at most 6 of the 256 channels are used.
uint64_t TokenChannel(isa::Queue from, isa::Queue to);

// For each address of one space, the sequence number of the latest instruction that touched it.
// Segments are disjoint and merged on overwrite; sequence numbers only grow. 0 means "never".
class LastAccessMap {
 public:
  uint64_t Latest(uint64_t begin, uint64_t end) const;  // max over [begin, end)
  void Record(uint64_t begin, uint64_t end, uint64_t seq);
  size_t num_segments() const { return segments_.size(); }

 private:
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> segments_;  // begin -> (end, seq)
};

// Where the tokens for one instruction go (TokenScheduler::Schedule).
struct TokenPlacement {
  uint64_t seq = 0;  // the instruction's sequence number (1, 2, ... over data instructions; 0: control)
  // SIGNALs to insert right after the earlier instruction with sequence number `first`.
  std::vector<std::pair<uint64_t, isa::Instruction>> signals_after;
  std::vector<isa::Instruction> waits;  // right before the instruction, in this order
};

// Token placement over one instruction stream, fed in program order. Not thread-safe.
class TokenScheduler {
 public:
  TokenScheduler();
  // Records `inst` as the next instruction of the stream and says which tokens it needs. SIGNAL/WAIT
  // given here as `inst` are taken as hand-placed tokens (their coverage is recorded); SYNC covers
  // everything.
  TokenPlacement Schedule(const isa::Instruction& inst);

  uint64_t tokens_placed() const { return tokens_placed_; }  // SIGNAL/WAIT pairs placed so far

 private:
  static constexpr size_t kQueues = 3;  // load, compute, store
  // What a SIGNAL on queue p guarantees to its waiter: per queue r, the sequence number up to which
  // r's instructions have completed when it fires.
  using Snapshot = std::array<uint64_t, kQueues>;
  // Latest sequence number of a p-instruction that conflicts with `acc` (0: none).
  uint64_t LatestConflict(size_t p, const Accesses& acc) const;
  Snapshot SnapshotAfter(uint64_t seq) const;  // a SIGNAL placed right after instruction `seq`
  Snapshot SignalSnapshot(size_t from) const;  // a SIGNAL placed now on queue `from`
  void ApplyWait(const Snapshot& s, size_t to);  // queue `to` is now ordered after s

  uint64_t next_seq_ = 1;
  std::array<uint64_t, kQueues> last_seq_{};                      // latest instruction per queue
  std::array<std::array<uint64_t, kQueues>, kQueues> covered_{};  // [p][q]: p's prefix q is after
  std::vector<uint8_t> queue_of_seq_{0};                          // indexed by seq
  std::vector<Snapshot> covered_at_seq_{Snapshot{}};              // covered_[*][queue] just after seq
  // The compute queue's instructions in order, and the indices i into it after which a SIGNAL costs
  // nothing (instruction i or i + 1 is an ACTIVATE/VECTOR, which drains the array anyway).
  std::vector<uint64_t> compute_seqs_;
  std::set<size_t> compute_free_points_;
  uint64_t SignalPoint(size_t p, uint64_t y) const;  // where a SIGNAL on p covering y goes
  std::array<std::array<LastAccessMap, kNumSpaces>, kQueues> last_read_, last_write_;
  std::map<uint64_t, std::deque<Snapshot>> hand_tokens_;  // channel -> signalled, not yet waited
  uint64_t tokens_placed_ = 0;
};

// A stream being built with its tokens: Append() schedules each instruction, Finish() returns the
// stream with every SIGNAL inserted where it belongs. Each instruction carries a caller's tag (codegen:
// its op index); a SIGNAL takes the tag of the instruction it follows.
class TokenStream {
 public:
  void Append(isa::Instruction inst, uint32_t tag);
  void Finish(std::vector<isa::Instruction>& code, std::vector<uint32_t>& tags);
  size_t size() const { return code_.size() + inserted_; }

 private:
  TokenScheduler scheduler_;
  std::vector<isa::Instruction> code_;
  std::vector<uint32_t> tags_;
  std::vector<size_t> index_of_seq_{0};                       // seq -> index in code_
  std::map<size_t, std::vector<isa::Instruction>> after_;  // index in code_ -> SIGNALs after it
  size_t inserted_ = 0;
};

// Schedules a whole stream (no tokens or SYNCs needed in it) and returns it with its tokens.
std::vector<isa::Instruction> ScheduleTokens(const std::vector<isa::Instruction>& code);

}  // namespace tpusim::compiler::codegen
