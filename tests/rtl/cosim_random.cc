// Random valid programs over the RTL subset (cosim_corpus.h).
//
// Validity for the functional engine: every access lies inside the UB, the accumulators and the
// frame; the weight FIFO never overflows or underflows in program order; every WAIT follows its
// SIGNAL. Cross-queue hazards are ordered as the compiler orders them: before an instruction of
// queue Q touches UB rows or DRAM bytes that an instruction of queue P wrote (or reads what Q
// writes), and nothing orders the two yet, P signals and Q waits (one channel per (P, Q) pair, so
// the k-th WAIT of a channel always takes the k-th SIGNAL of that pair). Orderings are tracked
// transitively (a vector clock per queue), and a SYNC orders everything. The weight FIFO needs no
// token: the hardware waits for the tile (docs/timing.md rule 4).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "../simulator/sim_test_util.h"
#include "cosim_corpus.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::rtl::cosim {
namespace {

using isa::DType;
using isa::Instruction;
using isa::Opcode;
using isa::Queue;

// The DRAM frame: [0, kFrameBytes) holds random bytes; STOREs write only [kStoreBegin,
// kFrameBytes), LOADs and LOAD_WEIGHTS read anywhere (so a LOAD may read what a STORE wrote).
constexpr uint64_t kStoreBegin = 0x4000;
constexpr uint64_t kFrameBytes = 0x6000;

struct Access {
  bool ub = true;  // UB rows, else DRAM bytes
  uint64_t lo = 0, hi = 0;  // [lo, hi)
  bool write = false;
};

bool Conflict(const std::vector<Access>& a, const std::vector<Access>& b) {
  for (const Access& x : a) {
    for (const Access& y : b) {
      if (x.ub == y.ub && (x.write || y.write) && x.lo < y.hi && y.lo < x.hi) return true;
    }
  }
  return false;
}

// Whether rows [dst, dst + n) start inside (src, src + n): a source shifted forwards.
bool ShiftedOverlap(uint64_t dst, uint64_t src, uint64_t n) { return dst > src && dst < src + n; }

// Bytes spanned by a strided 2-D DMA (0 when it moves nothing).
uint64_t Extent(uint64_t rows, uint64_t cols, uint64_t row_stride, uint64_t col_stride,
                uint64_t bytes) {
  if (rows == 0 || cols == 0) return 0;
  return ((rows - 1) * row_stride + (cols - 1) * col_stride + 1) * bytes;
}

class Generator {
 public:
  Generator(const isa::ArchConfig& arch, isa::MatmulType mode, uint32_t seed)
      : arch_(arch), mode_(mode), rng_(seed) {
    lanes_ = isa::UbLanes(arch);
    ub_rows_ = isa::UbRows(arch, mode);
    acc_rows_ = arch.accumulator_entries();
    ub_window_ = std::min<uint64_t>(ub_rows_, 48);
    acc_window_ = std::min<uint64_t>(acc_rows_, 32);
    channel_base_ = U(0, 255 - 6);
    for (auto& row : ordered_) row.fill(-1);
  }

  std::vector<Instruction> Make() {
    const size_t target = U(70, 160);
    while (code_.size() < target) Step();
    code_.push_back(isa::Make(Opcode::HALT));
    return code_;
  }

 private:
  uint64_t U(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return U(0, 99) < static_cast<uint64_t>(percent); }
  static int Q(Queue q) { return static_cast<int>(q); }

  // ---- Ordering ---------------------------------------------------------------------------------

  // Emits `inst` on `queue`, first ordering it after every conflicting unordered access.
  void Emit(const Instruction& inst, Queue queue, std::vector<Access> accesses) {
    for (Queue p : {Queue::Load, Queue::Compute, Queue::Store}) {
      if (p == queue) continue;
      const int64_t after = ordered_[Q(queue)][Q(p)];
      for (auto it = history_.rbegin(); it != history_.rend() && it->index > after; ++it) {
        if (it->queue == p && Conflict(it->accesses, accesses)) {
          Order(p, queue);
          break;
        }
      }
    }
    code_.push_back(inst);
    history_.push_back({static_cast<int64_t>(code_.size() - 1), queue, std::move(accesses)});
  }

  // SIGNAL on p, WAIT on q: q's next instructions run after everything p (and whatever p waited
  // for) did so far.
  void Order(Queue p, Queue q) {
    static constexpr int kPair[3][3] = {{-1, 0, 1}, {2, -1, 3}, {4, 5, -1}};
    const uint64_t channel = channel_base_ + kPair[Q(p)][Q(q)];
    code_.push_back(Token(Opcode::SIGNAL, p, channel));
    const auto signal = static_cast<int64_t>(code_.size() - 1);
    code_.push_back(Token(Opcode::WAIT, q, channel));
    for (int r = 0; r < 3; ++r) ordered_[Q(q)][r] = std::max(ordered_[Q(q)][r], ordered_[Q(p)][r]);
    ordered_[Q(q)][Q(p)] = signal;
  }

  void Sync() {
    code_.push_back(isa::Make(Opcode::SYNC));
    for (auto& row : ordered_) row.fill(static_cast<int64_t>(code_.size() - 1));
  }

  static Instruction Token(Opcode op, Queue q, uint64_t channel) {
    Instruction i = isa::Make(op);
    i.as<isa::TokenArgs>().queue = static_cast<uint64_t>(q);
    i.as<isa::TokenArgs>().channel = channel;
    return i;
  }

  // ---- Operands ---------------------------------------------------------------------------------

  // `count` UB rows: mostly in a small window (so queues touch the same rows), now and then at
  // the top of the UB.
  uint64_t UbStart(uint64_t count) {
    if (Chance(8)) return ub_rows_ - count;
    return U(0, ub_window_ - std::min(count, ub_window_));
  }
  uint64_t AccStart(uint64_t count) {
    if (Chance(8)) return acc_rows_ - count;
    return U(0, acc_window_ - count);
  }
  uint64_t Rows(uint64_t max) {  // narrow (1), medium, or wide
    if (Chance(20)) return 1;
    if (Chance(20)) return U(9, max);
    return U(2, 8);
  }
  static Access Ub(uint64_t first, uint64_t count, bool write) {
    return {true, first, first + count, write};
  }
  // A DRAM start for `extent` bytes in [lo, kFrameBytes): element-aligned, now and then not.
  uint64_t DramStart(uint64_t lo, uint64_t extent, uint64_t bytes) {
    uint64_t addr = U(lo, kFrameBytes - extent);
    if (!Chance(10)) addr -= (addr - lo) % bytes;
    return addr;
  }

  // ---- Instructions -----------------------------------------------------------------------------

  void Dma(Opcode op) {
    const auto dtype = static_cast<DType>(U(0, 3));
    const uint64_t bytes = isa::DTypeBytes(dtype);
    uint64_t rows = Chance(3) ? 0 : Rows(24);
    uint64_t lanes = Chance(40) ? lanes_ : Chance(15) ? 1 : U(1, lanes_);
    if (Chance(3)) lanes = 0;
    const uint64_t row_stride = Chance(40)   ? lanes
                                : Chance(50) ? U(lanes, 2 * lanes_)
                                : Chance(50) ? 0
                                             : U(1, std::max<uint64_t>(lanes, 1));
    const uint64_t lane_stride = Chance(60) ? 1 : Chance(40) ? 0 : U(2, 3);
    const uint64_t extent = Extent(rows, lanes, row_stride, lane_stride, bytes);
    const bool store = op == Opcode::STORE;
    const uint64_t addr = DramStart(store ? kStoreBegin : 0, extent, bytes);
    const uint64_t ub_row = UbStart(std::max<uint64_t>(rows, 1));
    const Instruction i =
        simulator::testing::Dma(op, dtype, addr, ub_row, rows, lanes, row_stride, lane_stride);
    std::vector<Access> acc;
    if (rows > 0) acc.push_back(Ub(ub_row, rows, /*write=*/!store));
    if (extent > 0) acc.push_back({false, addr, addr + extent, store});
    Emit(i, store ? Queue::Store : Queue::Load, std::move(acc));
  }

  void LoadWeights() {
    const uint64_t r = arch_.array_rows(), c = arch_.array_cols();
    const auto dtype = static_cast<DType>(U(0, 3));
    const uint64_t bytes = isa::DTypeBytes(dtype);
    const uint64_t rows = Chance(50) ? r : U(1, r), cols = Chance(50) ? c : U(1, c);
    const uint64_t row_stride = Chance(50)   ? cols
                                : Chance(50) ? U(cols, 2 * c)
                                : Chance(40) ? 0
                                             : U(1, cols);
    const uint64_t col_stride = Chance(60) ? 1 : Chance(40) ? 0 : 2;
    const uint64_t extent = Extent(rows, cols, row_stride, col_stride, bytes);
    const uint64_t addr = DramStart(0, extent, bytes);
    const Instruction i =
        simulator::testing::LoadWeights(dtype, addr, rows, cols, row_stride, col_stride);
    Emit(i, Queue::Load, {{false, addr, addr + extent, false}});
    ++fifo_;
  }

  void Matmul(bool pop) {
    const uint64_t rows = std::min<uint64_t>(Rows(16), acc_window_);
    const uint64_t ub_row = UbStart(rows), acc_row = AccStart(rows);
    Instruction i = isa::Make(Opcode::MATMUL);
    auto& a = i.as<isa::MatmulArgs>();
    a.dtype = static_cast<uint64_t>(mode_ == isa::INT8_INT32 ? DType::I8 : DType::BF16);
    a.accumulate = Chance(40);
    a.pop_weights = pop;
    a.ub_row = ub_row;
    a.acc_row = acc_row;
    a.rows = rows;
    if (pop) {
      --fifo_;
      loaded_ = true;
    }
    Emit(i, Queue::Compute, {Ub(ub_row, rows, false)});
  }

  // 1-3 MATMULs on the same weights, the first popping a tile when one is queued (or must be).
  void Matmuls() {
    if (fifo_ == 0 && !loaded_) return WeightBurst();
    const bool pop = fifo_ > 0 && (!loaded_ || Chance(60));
    Matmul(pop);
    for (uint64_t n = U(0, 2); n > 0; --n) Matmul(false);
  }

  // LOAD_WEIGHTS until the FIFO holds weight_fifo_depth tiles (or fewer, at random).
  void WeightBurst() {
    const uint64_t depth = arch_.weight_fifo_depth();
    if (fifo_ >= depth) return Matmuls();
    const uint64_t n = Chance(50) ? depth - fifo_ : U(1, depth - fifo_);
    for (uint64_t k = 0; k < n; ++k) LoadWeights();
  }

  void Activate() {
    const uint64_t rows = std::min<uint64_t>(Rows(12), acc_window_);
    Instruction i = isa::Make(Opcode::ACTIVATE);
    auto& a = i.as<isa::ActivateArgs>();
    a.func = static_cast<uint64_t>(Chance(50) ? isa::ActFunc::Relu : isa::ActFunc::None);
    if (mode_ == isa::INT8_INT32 && Chance(40)) {
      // Requantize (int8 mode): scales around 2^-12 .. 2^2 (the int32 sums of int8 products need
      // small ones to land inside int8), sometimes a random bit pattern (NaN, Inf, negative, huge).
      a.func = static_cast<uint64_t>(isa::ActFunc::Requantize);
      a.scale = Chance(15) ? U(0, 0xffffffffu)
                           : isa::F32Bits(std::ldexp(1.0f + static_cast<float>(U(0, 1023)) / 1024.0f,
                                                     -static_cast<int>(U(0, 14)) + 2));
      a.zero_point = U(0, 255);
    }
    a.has_bias = Chance(50);
    a.acc_row = AccStart(rows);
    a.ub_row = UbStart(rows);
    a.rows = rows;
    a.bias_row = Chance(20) ? a.ub_row : UbStart(1);  // sometimes among the rows it writes
    std::vector<Access> acc = {Ub(a.ub_row, rows, true)};
    if (a.has_bias) acc.push_back(Ub(a.bias_row, 1, false));
    Emit(i, Queue::Compute, std::move(acc));
  }

  float Imm(isa::VectorOp op) {
    if (op == isa::VectorOp::LeakyRelu) {
      static constexpr float kSlopes[] = {0.01f, 0.2f, -1.0f, 0.0f};
      return kSlopes[U(0, 3)];
    }
    static const uint32_t kBits[] = {0x3f000000,   // 0.5
                                     0xbfc00000,   // -1.5
                                     0x40400000,   // 3
                                     0x00000000, 0x80000000,  // +-0
                                     0x7fc00000,   // NaN
                                     0xff800000,   // -Inf
                                     0x00000005,   // subnormal
                                     0x7f7fffff,   // largest finite
                                     0x3dcccccd};  // 0.1
    float f;
    std::memcpy(&f, &kBits[U(0, std::size(kBits) - 1)], 4);
    return f;
  }

  void Vector() {
    const std::vector<isa::VectorOp> ops = RtlVectorOps(mode_);
    const isa::VectorOp op = ops[U(0, ops.size() - 1)];
    const isa::VectorArity arity = isa::VectorOpArity(op);
    const uint64_t rows = Rows(16);
    Instruction i = isa::Make(Opcode::VECTOR);
    auto& a = i.as<isa::VectorArgs>();
    a.op = static_cast<uint64_t>(op);
    a.rows = rows;
    a.a_row = UbStart(rows);
    const bool reduce = arity == isa::VectorArity::Reduce;
    const uint64_t dst_rows = reduce ? 1 : rows;
    a.dst_row = Chance(25) ? a.a_row : UbStart(dst_rows);  // in place (dst == a) now and then
    const bool binary = arity == isa::VectorArity::Binary;
    if (binary) {
      a.b_bcast = Chance(35);
      a.b_row = Chance(10) ? a.dst_row : UbStart(a.b_bcast ? 1 : rows);
    } else {
      a.b_row = U(0, ub_rows_ - 1);  // ignored by the op
    }
    // The RTL core writes row r of an elementwise op as it reads row r of its sources, so a
    // destination may equal a source but not start inside one (rtl::CheckRtlSupport refuses it).
    if (!reduce && ShiftedOverlap(a.dst_row, a.a_row, rows)) a.dst_row = a.a_row;
    if (binary && !a.b_bcast && ShiftedOverlap(a.dst_row, a.b_row, rows)) a.b_row = a.dst_row;
    std::vector<Access> acc = {Ub(a.a_row, rows, false), Ub(a.dst_row, dst_rows, true)};
    if (binary) acc.push_back(Ub(a.b_row, a.b_bcast ? 1 : rows, false));
    if (arity == isa::VectorArity::Imm) a.imm = isa::F32Bits(Imm(op));
    Emit(i, Queue::Compute, std::move(acc));
  }

  void Step() {
    const uint64_t pick = U(0, 99);
    if (pick < 20) {
      Dma(Opcode::LOAD);
    } else if (pick < 30) {
      WeightBurst();
    } else if (pick < 46) {
      Matmuls();
    } else if (pick < 56) {
      Activate();
    } else if (pick < 76) {
      Vector();
    } else if (pick < 92) {
      Dma(Opcode::STORE);
    } else if (pick < 95) {
      Sync();
    } else {
      static constexpr Queue kQueues[] = {Queue::Load, Queue::Compute, Queue::Store};
      const uint64_t p = U(0, 2), q = (p + U(1, 2)) % 3;
      Order(kQueues[p], kQueues[q]);  // a token nothing needs: allowed, and timed
    }
  }

  struct Record {
    int64_t index;
    Queue queue;
    std::vector<Access> accesses;
  };

  const isa::ArchConfig arch_;
  const isa::MatmulType mode_;
  std::mt19937_64 rng_;
  uint64_t lanes_ = 0, ub_rows_ = 0, acc_rows_ = 0, ub_window_ = 0, acc_window_ = 0;
  uint64_t channel_base_ = 0;
  uint64_t fifo_ = 0;    // tiles loaded and not yet popped, in program order
  bool loaded_ = false;  // a tile was popped into the array
  // ordered_[q][p]: the latest program index of a queue-p instruction that every later queue-q
  // instruction is ordered after (-1: none).
  std::array<std::array<int64_t, 3>, 3> ordered_{};
  std::vector<Record> history_;
  std::vector<Instruction> code_;
};

}  // namespace

absl::StatusOr<CosimCase> RandomCase(const CosimSpec& spec) {
  CosimCase c;
  c.name = spec.name;
  auto arch = LoadCosimArch(spec.arch);
  if (!arch.ok()) return arch.status();
  c.arch = *arch;
  c.mode = spec.mode;
  // The same seed on another arch or mode gives an unrelated program.
  const uint32_t seed = spec.seed * 7919u + (c.mode == isa::INT8_INT32 ? 104729u : 0u) +
                        c.arch.array_rows() * 31u + c.arch.array_cols();
  c.code = Generator(c.arch, c.mode, seed).Make();
  c.frame_bytes = kFrameBytes;
  c.dram.push_back({0, RandomDramBytes(kFrameBytes, seed)});
  c.program.set_isa_version(isa::kIsaVersion);
  *c.program.mutable_arch() = c.arch;
  c.program.set_frame_bytes(kFrameBytes);
  c.program.set_precision(c.mode == isa::INT8_INT32 ? "int8" : "bf16");
  auto bytes = isa::EncodeProgram(c.code);
  if (!bytes.ok()) return bytes.status();
  c.program.set_code(*bytes);
  return c;
}

}  // namespace tpusim::rtl::cosim
