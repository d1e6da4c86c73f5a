// The dependency-token scheduler alone (tpusim/compiler_backend/schedule_tokens.h), on hand-written
// instruction sequences. Channels: TokenChannel(p, q) = 4p + q with load 0, compute 1, store 2, so
// load->compute 1, load->store 2, compute->load 4, compute->store 6, store->load 8, store->compute 9.
#include "tpusim/compiler_backend/schedule_tokens.h"

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tpusim/isa/isa.h"

namespace tpusim::compiler::codegen {
namespace {

isa::Instruction Asm(const std::string& line) {
  auto inst = isa::Assemble(line);
  EXPECT_TRUE(inst.ok()) << line << ": " << inst.status();
  return inst.ok() ? *inst : isa::Make(isa::Opcode::HALT);
}

// Schedules `lines` as one stream; returns the scheduled stream, one disassembled line each.
std::vector<std::string> Scheduled(const std::vector<std::string>& lines) {
  std::vector<isa::Instruction> in;
  for (const std::string& line : lines) in.push_back(Asm(line));
  std::vector<std::string> out;
  for (const isa::Instruction& inst : ScheduleTokens(in)) out.push_back(isa::Disassemble(inst));
  return out;
}

// Canonical text of an instruction line (fields in table order).
std::string Canon(const std::string& line) { return isa::Disassemble(Asm(line)); }

constexpr char kLoad0[] = "LOAD dtype=f32 dram_addr=0x0 ub_row=0 rows=8 lanes=8 row_stride=8 lane_stride=1";
constexpr char kLoad1[] = "LOAD dtype=f32 dram_addr=0x100 ub_row=8 rows=8 lanes=8 row_stride=8 lane_stride=1";
constexpr char kStore0[] = "STORE dtype=f32 dram_addr=0x1000 ub_row=0 rows=8 lanes=8 row_stride=8 lane_stride=1";

TEST(TokenChannel, OneChannelPerOrderedQueuePair) {
  EXPECT_EQ(TokenChannel(isa::Queue::Load, isa::Queue::Compute), 1u);
  EXPECT_EQ(TokenChannel(isa::Queue::Compute, isa::Queue::Load), 4u);
  EXPECT_EQ(TokenChannel(isa::Queue::Compute, isa::Queue::Store), 6u);
  EXPECT_EQ(TokenChannel(isa::Queue::Store, isa::Queue::Load), 8u);
}

// LOAD 3 rows x 4 lanes f32 at 0x100, row_stride 10, lane_stride 1: the last element is
// (2*10 + 3*1) * 4 = 92 bytes in, so the bounding interval is [0x100, 0x100 + 96).
TEST(AccessesOf, StridedDmaIsItsBoundingByteInterval) {
  Accesses a = AccessesOf(Asm("LOAD dtype=f32 dram_addr=0x100 ub_row=5 rows=3 lanes=4 row_stride=10 lane_stride=1"));
  ASSERT_EQ(a.num_reads, 1u);
  EXPECT_EQ(a.reads[0].space, Space::kDram);
  EXPECT_EQ(a.reads[0].begin, 0x100u);
  EXPECT_EQ(a.reads[0].end, 0x100u + 96);
  ASSERT_EQ(a.num_writes, 1u);
  EXPECT_EQ(a.writes[0].space, Space::kUb);
  EXPECT_EQ(a.writes[0].begin, 5u);
  EXPECT_EQ(a.writes[0].end, 8u);
  // Transposed bf16 STORE, 5 rows x 3 lanes, row_stride 1, lane_stride 5: last element
  // (4*1 + 2*5) * 2 = 28 bytes in, interval [0, 30).
  a = AccessesOf(Asm("STORE dtype=bf16 dram_addr=0x0 ub_row=0 rows=5 lanes=3 row_stride=1 lane_stride=5"));
  ASSERT_EQ(a.num_writes, 1u);
  EXPECT_EQ(a.writes[0].end, 30u);
  // LOAD_WEIGHTS 8x8 bf16, row_stride 16, col_stride 1: (7*16 + 7) * 2 + 2 = 240 bytes; FIFO untracked.
  a = AccessesOf(Asm("LOAD_WEIGHTS dtype=bf16 dram_addr=0x40 rows=8 cols=8 row_stride=16 col_stride=1"));
  ASSERT_EQ(a.num_reads, 1u);
  EXPECT_EQ(a.reads[0].end - a.reads[0].begin, 240u);
  EXPECT_EQ(a.num_writes, 0u);
}

TEST(AccessesOf, ComputeInstructionsFromTheirFields) {
  // Reduce reads `rows` rows and writes one.
  Accesses a = AccessesOf(Asm("VECTOR op=reduce_sum dst_row=40 a_row=10 rows=6"));
  ASSERT_EQ(a.num_reads, 1u);
  EXPECT_EQ(a.reads[0].end - a.reads[0].begin, 6u);
  EXPECT_EQ(a.writes[0].end - a.writes[0].begin, 1u);
  // Broadcast binary reads one b row.
  a = AccessesOf(Asm("VECTOR op=add b_bcast=1 dst_row=0 a_row=0 b_row=9 rows=4"));
  ASSERT_EQ(a.num_reads, 2u);
  EXPECT_EQ(a.reads[1].begin, 9u);
  EXPECT_EQ(a.reads[1].end, 10u);
  // Accumulating MATMUL reads and writes its accumulator rows.
  a = AccessesOf(Asm("MATMUL dtype=bf16 accumulate=1 pop_weights=1 ub_row=3 acc_row=7 rows=2"));
  ASSERT_EQ(a.num_reads, 2u);
  EXPECT_EQ(a.reads[1].space, Space::kAcc);
  EXPECT_EQ(a.writes[0].space, Space::kAcc);
  EXPECT_EQ(a.writes[0].begin, 7u);
  // ACTIVATE with bias reads accumulator rows and the bias row, writes UB rows.
  a = AccessesOf(Asm("ACTIVATE func=relu has_bias=1 acc_row=0 ub_row=20 rows=4 bias_row=30"));
  ASSERT_EQ(a.num_reads, 2u);
  EXPECT_EQ(a.reads[1].begin, 30u);
  EXPECT_EQ(a.writes[0].begin, 20u);
  EXPECT_EQ(AccessesOf(Asm("HALT")).num_reads, 0u);
}

TEST(TokenScheduler, RawOnUbRowsFromLoadToCompute) {
  const std::string relu = "VECTOR op=relu dst_row=0 a_row=4 rows=2";
  EXPECT_EQ(Scheduled({kLoad0, relu}),
            (std::vector<std::string>{Canon(kLoad0), "SIGNAL queue=load channel=1",
                                      "WAIT queue=compute channel=1", Canon(relu)}));
}

TEST(TokenScheduler, NoTokenWithoutConflict) {
  const std::vector<std::string> in = {
      kLoad0, "VECTOR op=relu dst_row=16 a_row=8 rows=8",
      "STORE dtype=f32 dram_addr=0x1000 ub_row=32 rows=8 lanes=8 row_stride=8 lane_stride=1",
      "LOAD_WEIGHTS dtype=bf16 dram_addr=0x2000 rows=8 cols=8 row_stride=8 col_stride=1",
      "MATMUL dtype=bf16 pop_weights=1 ub_row=40 acc_row=0 rows=4"};
  std::vector<std::string> canon;
  for (const std::string& line : in) canon.push_back(Canon(line));
  EXPECT_EQ(Scheduled(in), canon);
}

TEST(TokenScheduler, WarOnUbRowsFromStoreToLoad) {
  // The LOAD overwrites rows the STORE still reads: the load queue waits for the store queue.
  const std::string load = "LOAD dtype=f32 dram_addr=0x0 ub_row=6 rows=4 lanes=8 row_stride=8 lane_stride=1";
  EXPECT_EQ(Scheduled({kStore0, load}),
            (std::vector<std::string>{Canon(kStore0), "SIGNAL queue=store channel=8", "WAIT queue=load channel=8",
                                      Canon(load)}));
}

TEST(TokenScheduler, DramConflictsBetweenStoreAndLoads) {
  // STORE writes bytes [0x1000, 0x1100); a LOAD of [0x10F0, ...) reads some of them (RAW), and a
  // LOAD_WEIGHTS of [0x1080, ...) too; the token before the first covers the second.
  const std::string load = "LOAD dtype=f32 dram_addr=0x10f0 ub_row=16 rows=1 lanes=8 row_stride=8 lane_stride=1";
  const std::string weights = "LOAD_WEIGHTS dtype=bf16 dram_addr=0x1080 rows=8 cols=8 row_stride=8 col_stride=1";
  EXPECT_EQ(Scheduled({kStore0, load, weights}),
            (std::vector<std::string>{Canon(kStore0), "SIGNAL queue=store channel=8", "WAIT queue=load channel=8",
                                      Canon(load), Canon(weights)}));
  // WAR on DRAM: the STORE overwrites bytes an earlier LOAD_WEIGHTS reads.
  EXPECT_EQ(Scheduled({weights, kStore0}),
            (std::vector<std::string>{Canon(weights), "SIGNAL queue=load channel=2", "WAIT queue=store channel=2",
                                      Canon(kStore0)}));
  // Disjoint bytes: [0x1000, 0x1100) then [0x1100, ...): no token.
  const std::string after = "LOAD dtype=f32 dram_addr=0x1100 ub_row=16 rows=8 lanes=8 row_stride=8 lane_stride=1";
  EXPECT_EQ(Scheduled({kStore0, after}).size(), 2u);
}

// The SIGNAL goes right after the instruction depended on, not right before the waiter: a VECTOR that
// needs only the first of two LOADs does not wait for the second.
TEST(TokenScheduler, SignalFollowsTheInstructionDependedOn) {
  const std::string relu0 = "VECTOR op=relu dst_row=0 a_row=0 rows=8";
  EXPECT_EQ(Scheduled({kLoad0, kLoad1, relu0}),
            (std::vector<std::string>{Canon(kLoad0), "SIGNAL queue=load channel=1", Canon(kLoad1),
                                      "WAIT queue=compute channel=1", Canon(relu0)}));
}

// A SIGNAL covers every earlier instruction of its queue: once the VECTOR waited for the second LOAD,
// a VECTOR on the first LOAD's rows needs no token; a third LOAD issued later does.
TEST(TokenScheduler, OneSignalCoversEveryEarlierInstructionOfItsQueue) {
  const std::string relu1 = "VECTOR op=relu dst_row=8 a_row=8 rows=8";
  const std::string relu0 = "VECTOR op=relu dst_row=0 a_row=0 rows=8";
  const std::string load2 = "LOAD dtype=f32 dram_addr=0x200 ub_row=16 rows=8 lanes=8 row_stride=8 lane_stride=1";
  const std::string relu2 = "VECTOR op=relu dst_row=16 a_row=16 rows=8";
  EXPECT_EQ(Scheduled({kLoad0, kLoad1, relu1, relu0, load2, relu2}),
            (std::vector<std::string>{Canon(kLoad0), Canon(kLoad1), "SIGNAL queue=load channel=1",
                                      "WAIT queue=compute channel=1", Canon(relu1), Canon(relu0), Canon(load2),
                                      "SIGNAL queue=load channel=1", "WAIT queue=compute channel=1",
                                      Canon(relu2)}));
}

// A SIGNAL on the compute queue drains the array, so it is never put between two MATMULs when a
// drain point follows: here the LOAD overwrites rows the first MATMUL read; the SIGNAL goes after the
// MATMUL that precedes the ACTIVATE. Without a drain point it goes after the last MATMUL so far.
TEST(TokenScheduler, ComputeSignalsGoWhereTheArrayDrainsAnyway) {
  const std::string mm0 = "MATMUL dtype=bf16 pop_weights=1 ub_row=0 acc_row=0 rows=8";
  const std::string mm1 = "MATMUL dtype=bf16 pop_weights=1 ub_row=8 acc_row=8 rows=8";
  const std::string act = "ACTIVATE acc_row=0 ub_row=32 rows=8";
  const std::string mm2 = "MATMUL dtype=bf16 pop_weights=1 ub_row=16 acc_row=16 rows=8";
  EXPECT_EQ(Scheduled({mm0, mm1, act, mm2, kLoad0}),
            (std::vector<std::string>{Canon(mm0), Canon(mm1), "SIGNAL queue=compute channel=4", Canon(act), Canon(mm2),
                                      "WAIT queue=load channel=4", Canon(kLoad0)}));
  EXPECT_EQ(Scheduled({mm0, mm1, mm2, kLoad0}),
            (std::vector<std::string>{Canon(mm0), Canon(mm1), Canon(mm2), "SIGNAL queue=compute channel=4",
                                      "WAIT queue=load channel=4", Canon(kLoad0)}));
}

TEST(TokenScheduler, CoverageIsTransitive) {
  // load -> compute -> store chain; the STORE then overwrites the DRAM bytes the LOAD read (WAR on the
  // load queue) and reads rows the VECTOR wrote (RAW on compute). Waiting on compute is enough: compute
  // had already waited for the LOAD.
  const std::string relu = "VECTOR op=relu dst_row=16 a_row=0 rows=8";
  const std::string store = "STORE dtype=f32 dram_addr=0x0 ub_row=16 rows=8 lanes=8 row_stride=8 lane_stride=1";
  EXPECT_EQ(Scheduled({kLoad0, relu, store}),
            (std::vector<std::string>{Canon(kLoad0), "SIGNAL queue=load channel=1", "WAIT queue=compute channel=1",
                                      Canon(relu), "SIGNAL queue=compute channel=6", "WAIT queue=store channel=6",
                                      Canon(store)}));
}

TEST(TokenScheduler, SyncAndHandPlacedTokensCount) {
  const std::vector<std::string> in = {kLoad0,
                                       "SYNC",
                                       "VECTOR op=relu dst_row=0 a_row=0 rows=8",
                                       kLoad1,
                                       "SIGNAL queue=load channel=17",
                                       "WAIT queue=compute channel=17",
                                       "VECTOR op=relu dst_row=8 a_row=8 rows=8"};
  EXPECT_EQ(Scheduled(in).size(), in.size()) << "SYNC and the hand-placed pair already order everything";
}

// Property: in the scheduled stream every cross-queue conflicting pair is ordered by a chain of
// tokens. Happens-before is computed independently with vector clocks: a queue's instructions run in
// order; a SIGNAL publishes its queue's progress; a WAIT takes the progress of the matching SIGNAL
// (FIFO per channel). Conflicts are checked by brute force over the instructions' address ranges.
TEST(TokenScheduler, RandomStreamsOrderEveryCrossQueueConflict) {
  std::mt19937 gen(1234);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<isa::Instruction> in;
    auto row = [&] { return std::uniform_int_distribution<int>(0, 24)(gen); };
    auto addr = [&] { return 64 * std::uniform_int_distribution<int>(0, 12)(gen); };
    for (int i = 0; i < 150; ++i) {
      const std::string dma = " rows=4 lanes=8 row_stride=8 lane_stride=1";
      std::string line;
      switch (std::uniform_int_distribution<int>(0, 5)(gen)) {
        case 0: line = absl::StrCat("LOAD dtype=f32 dram_addr=", addr(), " ub_row=", row(), dma); break;
        case 1: line = absl::StrCat("STORE dtype=f32 dram_addr=", addr(), " ub_row=", row(), dma); break;
        case 2:
          line = absl::StrCat("LOAD_WEIGHTS dtype=bf16 dram_addr=", addr(), " rows=8 cols=8 row_stride=8 col_stride=1");
          break;
        case 3:
          line = absl::StrCat("MATMUL dtype=bf16 accumulate=1 ub_row=", row(), " acc_row=", row(), " rows=3");
          break;
        case 4: line = absl::StrCat("ACTIVATE acc_row=", row(), " ub_row=", row(), " rows=2"); break;
        default:
          line = absl::StrCat("VECTOR op=add dst_row=", row(), " a_row=", row(), " b_row=", row(), " rows=3");
          break;
      }
      in.push_back(Asm(line));
    }
    const std::vector<isa::Instruction> out = ScheduleTokens(in);
    std::vector<size_t> out_index;  // position in `out` of each input instruction
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].opcode != isa::Opcode::SIGNAL && out[i].opcode != isa::Opcode::WAIT) out_index.push_back(i);
    }
    ASSERT_EQ(out_index.size(), in.size());
    // Vector clocks: clock[i][p] = number of p-queue data instructions known complete before i starts.
    std::vector<std::array<size_t, 3>> clock(out.size());
    std::array<std::array<size_t, 3>, 3> queue_clock{};  // running clock per queue
    std::array<size_t, 3> done{};                          // data instructions issued per queue
    std::map<uint64_t, std::vector<std::array<size_t, 3>>> signalled;
    std::map<uint64_t, size_t> waited;
    std::vector<size_t> ordinal(out.size());  // index of a data instruction within its queue
    for (size_t i = 0; i < out.size(); ++i) {
      const isa::Instruction& x = out[i];
      if (x.opcode == isa::Opcode::SIGNAL || x.opcode == isa::Opcode::WAIT) {
        const auto& a = x.as<isa::TokenArgs>();
        auto& qc = queue_clock[a.queue];
        if (x.opcode == isa::Opcode::SIGNAL) {
          std::array<size_t, 3> c = qc;
          c[a.queue] = done[a.queue];
          signalled[a.channel].push_back(c);
        } else {
          ASSERT_LT(waited[a.channel], signalled[a.channel].size()) << "WAIT without an earlier SIGNAL";
          const auto& c = signalled[a.channel][waited[a.channel]++];
          for (size_t r = 0; r < 3; ++r) qc[r] = std::max(qc[r], c[r]);
        }
        continue;
      }
      const size_t q = static_cast<size_t>(isa::QueueOf(x.opcode));
      clock[i] = queue_clock[q];
      ordinal[i] = done[q]++;
    }
    auto overlap = [](const Range& a, const Range& b) {
      return a.space == b.space && a.begin < b.end && b.begin < a.end;
    };
    for (size_t xi = 0; xi < in.size(); ++xi) {
      const Accesses ax = AccessesOf(in[xi]);
      const size_t qx = static_cast<size_t>(isa::QueueOf(in[xi].opcode));
      for (size_t yi = 0; yi < xi; ++yi) {
        const size_t qy = static_cast<size_t>(isa::QueueOf(in[yi].opcode));
        if (qx == qy) continue;
        const Accesses ay = AccessesOf(in[yi]);
        bool conflict = false;
        for (size_t w = 0; w < ax.num_writes; ++w) {
          for (size_t r = 0; r < ay.num_reads; ++r) conflict |= overlap(ax.writes[w], ay.reads[r]);
          for (size_t v = 0; v < ay.num_writes; ++v) conflict |= overlap(ax.writes[w], ay.writes[v]);
        }
        for (size_t r = 0; r < ax.num_reads; ++r) {
          for (size_t w = 0; w < ay.num_writes; ++w) conflict |= overlap(ax.reads[r], ay.writes[w]);
        }
        if (conflict) {
          EXPECT_GT(clock[out_index[xi]][qy], ordinal[out_index[yi]])
              << "trial " << trial << ": " << isa::Disassemble(in[xi]) << " is not ordered after "
              << isa::Disassemble(in[yi]);
        }
      }
    }
  }
}

}  // namespace
}  // namespace tpusim::compiler::codegen
