// Codegen context: frame layout, constant segments and the instruction stream (codegen_context.h).
#include "codegen_context.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

uint64_t UbAllocator::Take(uint64_t rows) {
  TPUSIM_CHECK(rows <= free(), "UB region does not fit: the lowering sized its tiles wrongly");
  uint64_t first = next_;
  next_ += rows;
  return first;
}

std::string NodeLabel(const Node& node) { return absl::StrCat("node '", node.name, "' (", node.op_type, ")"); }

namespace {
namespace nb = isa::numerics::bits;  // the bit-pattern numerics: inline, so the split loops vectorise

inline uint32_t BitsOf(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

}  // namespace

void SplitBf16PartsInto(float x, int num_parts, uint16_t* out) {
  uint32_t rest = BitsOf(x);
  for (int p = 0; p < num_parts; ++p) {
    const uint16_t bits = nb::F32ToBf16(rest);
    out[p] = bits;
    rest = nb::AddF32(rest, nb::Bf16ToF32(bits) ^ 0x80000000u);  // rest - p_p
  }
}

void SplitBf16Tensor(const float* x, size_t n, int num_parts, char* const* out) {
  // Blocks of kBlock elements, one simple loop per step, so that the compiler vectorises them.
  constexpr size_t kBlock = 1024;
  uint32_t rest[kBlock];
  uint16_t bits[kBlock];
  for (size_t begin = 0; begin < n; begin += kBlock) {
    const size_t count = std::min(kBlock, n - begin);
    std::memcpy(rest, x + begin, count * sizeof(float));
    for (int p = 0; p < num_parts; ++p) {
      for (size_t i = 0; i < count; ++i) bits[i] = nb::F32ToBf16(rest[i]);
      if (p + 1 < num_parts) {
        for (size_t i = 0; i < count; ++i) rest[i] = nb::AddF32(rest[i], nb::Bf16ToF32(bits[i]) ^ 0x80000000u);  // - p_p
      }
      char* o = out[p] + begin * kBf16Bytes;
      for (size_t i = 0; i < count; ++i) {  // bf16 in DRAM: little-endian 16-bit patterns
        o[2 * i] = static_cast<char>(bits[i] & 0xFF);
        o[2 * i + 1] = static_cast<char>(bits[i] >> 8);
      }
    }
  }
}

std::vector<uint16_t> SplitBf16Parts(float x, int num_parts) {
  std::vector<uint16_t> parts(static_cast<size_t>(std::max(num_parts, 0)));
  SplitBf16PartsInto(x, num_parts, parts.data());
  return parts;
}

CodegenContext::CodegenContext(const Graph& graph, const CompileOptions& options)
    : graph_(graph),
      options_(options),
      lanes_(isa::UbLanes(options.arch)),
      ub_rows_(isa::UbRows(options.arch, isa::BF16_FP32)) {}

const Value& CodegenContext::ValueOf(const std::string& name) const {
  const Value* v = graph_.FindValue(name);
  TPUSIM_CHECK(v != nullptr, "codegen: value missing from a validated graph");
  return *v;
}

const Shape& CodegenContext::ShapeOf(const std::string& name) const {
  const Shape* shape = KnownShape(ValueOf(name));
  TPUSIM_CHECK(shape != nullptr, "codegen: value without a shape after shape inference");
  return *shape;
}

absl::Status CodegenContext::RequireFloat(const Node& node, const std::string& name) const {
  const Value& v = ValueOf(name);
  if (v.dtype != DataType::kFloat32 || (v.constant.has_value() && v.constant->dtype() != DataType::kFloat32)) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": value '", name, "' is ",
                                                 std::string(DataTypeName(v.dtype)), "; the TPU lowering handles float32 only"));
  }
  return absl::OkStatus();
}

uint64_t CodegenContext::Allocate(uint64_t bytes) {
  TPUSIM_CHECK(planning_, "codegen: frame allocation after planning");
  uint64_t offset = frame_end_;
  frame_end_ += (bytes + kFrameAlign - 1) / kFrameAlign * kFrameAlign;
  return offset;
}

void CodegenContext::Bind(const std::string& name, uint64_t offset) {
  bool inserted = f32_regions_.emplace(name, offset).second;
  TPUSIM_CHECK(inserted, "codegen: value bound to two frame regions");
}

absl::StatusOr<uint64_t> CodegenContext::F32Region(const std::string& name) {
  auto it = f32_regions_.find(name);
  if (it != f32_regions_.end()) return it->second;
  const Value& v = ValueOf(name);
  if (!planning_ || !v.constant.has_value()) {
    return absl::InternalError(absl::StrCat("codegen: value '", name, "' has no frame region"));
  }
  const Tensor& t = *v.constant;
  if (t.dtype() != DataType::kFloat32) {
    return absl::UnimplementedError(absl::StrCat("constant '", name, "' is ", std::string(DataTypeName(t.dtype())),
                                                 "; the TPU lowering handles float32 only"));
  }
  uint64_t offset = Allocate(t.byte_size());
  isa::Segment seg;
  seg.set_name(name);
  seg.set_dram_offset(offset);
  seg.set_data(reinterpret_cast<const char*>(t.data()), t.byte_size());
  segments_.push_back(std::move(seg));
  Bind(name, offset);
  return offset;
}

absl::StatusOr<uint64_t> CodegenContext::ConstantBf16Part(const std::string& name, int part, int num_parts) {
  auto key = std::make_tuple(name, part, num_parts);
  auto it = part_regions_.find(key);
  if (it != part_regions_.end()) return it->second;
  const Value& v = ValueOf(name);
  if (!planning_ || !v.constant.has_value()) {
    return absl::InternalError(absl::StrCat("codegen: constant bf16 part ", part, " of '", name, "' was not planned"));
  }
  const Tensor& t = *v.constant;
  if (t.dtype() != DataType::kFloat32) {
    return absl::UnimplementedError(absl::StrCat("constant '", name, "' is ", std::string(DataTypeName(t.dtype())),
                                                 "; the TPU lowering handles float32 only"));
  }
  // All parts of this split are created together, so later requests are lookups.
  TPUSIM_CHECK(num_parts >= 1 && num_parts <= kMaxBf16Parts, "codegen: bf16 split into an unsupported part count");
  const size_t n = static_cast<size_t>(t.num_elements());
  std::vector<std::string> data(num_parts, std::string(n * kBf16Bytes, '\0'));
  char* out[kMaxBf16Parts] = {};
  for (int p = 0; p < num_parts; ++p) out[p] = data[p].data();
  SplitBf16Tensor(t.as<float>(), n, num_parts, out);
  for (int p = 0; p < num_parts; ++p) {
    uint64_t offset = Allocate(data[p].size());
    isa::Segment seg;
    seg.set_name(absl::StrCat(name, "/bf16_part", p, "_of_", num_parts));
    seg.set_dram_offset(offset);
    seg.set_data(std::move(data[p]));
    segments_.push_back(std::move(seg));
    part_regions_[std::make_tuple(name, p, num_parts)] = offset;
  }
  return part_regions_.at(key);
}

uint64_t CodegenContext::AllocateScratch(const std::string& key, uint64_t bytes) {
  uint64_t offset = Allocate(bytes);
  bool inserted = scratch_.emplace(key, offset).second;
  TPUSIM_CHECK(inserted, "codegen: scratch key used twice");
  return offset;
}

absl::StatusOr<uint64_t> CodegenContext::Scratch(const std::string& key) const {
  auto it = scratch_.find(key);
  if (it == scratch_.end()) return absl::InternalError(absl::StrCat("codegen: scratch '", key, "' was not planned"));
  return it->second;
}

// Ordering policy (the one place that decides it), CompileOptions::schedule:
//   kSerial: a SYNC (full barrier) separates every instruction from the previous non-control one
//            whenever their queues differ, so each queue only runs while the others are drained.
//   kTokens: the TokenScheduler (schedule_tokens.h) places a SIGNAL/WAIT pair only for a cross-queue
//            conflict not yet ordered by an earlier token, the SIGNAL right after the instruction
//            depended on (schedule_tokens.cc, SignalPoint), so the stream is complete only at HALT;
//            queues overlap. Compile then hoists weight loads and places the tokens again over the
//            whole program (schedule_program.h).
// Either way program order is a valid execution order, so the functional engine's results (which
// follow program order) are the same bits under both.
void CodegenContext::Emit(isa::Instruction inst) {
  TPUSIM_CHECK(!planning_, "codegen: instruction emitted during planning");
  TPUSIM_CHECK(!halted_, "codegen: instruction emitted after HALT");
  const bool halt = inst.opcode == isa::Opcode::HALT;
  if (options_.schedule == Schedule::kTokens) {
    tokens_.Append(std::move(inst), current_op_);
    if (halt) tokens_.Finish(code_, inst_op_);
    halted_ = halt;
    return;
  }
  isa::Queue queue = isa::QueueOf(inst.opcode);
  if (queue != isa::Queue::Control) {
    if (last_queue_.has_value() && *last_queue_ != queue) {
      code_.push_back(isa::Make(isa::Opcode::SYNC));
      inst_op_.push_back(current_op_);
    }
    last_queue_ = queue;
  }
  code_.push_back(std::move(inst));
  inst_op_.push_back(current_op_);
  halted_ = halt;
}

namespace {
uint64_t Code(isa::DType t) { return static_cast<uint64_t>(t); }
}  // namespace

void CodegenContext::Load(isa::DType dtype, const DramView& src, uint64_t ub_row, uint64_t rows, uint64_t lanes) {
  isa::DmaArgs a;
  a.dtype = Code(dtype);
  a.dram_addr = src.addr;
  a.ub_row = ub_row;
  a.rows = rows;
  a.lanes = lanes;
  a.row_stride = src.row_stride;
  a.lane_stride = src.lane_stride;
  Emit(isa::Make(isa::Opcode::LOAD, a));
}

void CodegenContext::Store(isa::DType dtype, const DramView& dst, uint64_t ub_row, uint64_t rows, uint64_t lanes) {
  isa::DmaArgs a;
  a.dtype = Code(dtype);
  a.dram_addr = dst.addr;
  a.ub_row = ub_row;
  a.rows = rows;
  a.lanes = lanes;
  a.row_stride = dst.row_stride;
  a.lane_stride = dst.lane_stride;
  Emit(isa::Make(isa::Opcode::STORE, a));
}

void CodegenContext::LoadWeights(isa::DType dtype, const DramView& src, uint64_t rows, uint64_t cols, uint32_t mxu) {
  TPUSIM_CHECK(mxu < std::max<uint32_t>(1, options_.arch.mxu_count()), "codegen: LOAD_WEIGHTS on a missing matrix unit");
  isa::WeightsArgs a;
  a.mxu = mxu;
  a.dtype = Code(dtype);
  a.dram_addr = src.addr;
  a.rows = rows;
  a.cols = cols;
  a.row_stride = src.row_stride;
  a.col_stride = src.lane_stride;
  Emit(isa::Make(isa::Opcode::LOAD_WEIGHTS, a));
}

void CodegenContext::Matmul(uint64_t ub_row, uint64_t acc_row, uint64_t rows, bool accumulate, bool pop_weights,
                            uint32_t mxu) {
  TPUSIM_CHECK(mxu < std::max<uint32_t>(1, options_.arch.mxu_count()), "codegen: MATMUL on a missing matrix unit");
  isa::MatmulArgs a;
  a.mxu = mxu;
  a.dtype = Code(isa::DType::BF16);
  a.accumulate = accumulate ? 1 : 0;
  a.pop_weights = pop_weights ? 1 : 0;
  a.ub_row = ub_row;
  a.acc_row = acc_row;
  a.rows = rows;
  Emit(isa::Make(isa::Opcode::MATMUL, a));
}

void CodegenContext::Activate(uint64_t acc_row, uint64_t ub_row, uint64_t rows, isa::ActFunc func,
                              std::optional<uint64_t> bias_row) {
  isa::ActivateArgs a;
  a.func = static_cast<uint64_t>(func);
  a.has_bias = bias_row.has_value() ? 1 : 0;
  a.acc_row = acc_row;
  a.ub_row = ub_row;
  a.rows = rows;
  a.bias_row = bias_row.value_or(0);
  Emit(isa::Make(isa::Opcode::ACTIVATE, a));
}

void CodegenContext::Vector(isa::VectorOp op, uint64_t dst_row, uint64_t a_row, uint64_t b_row, uint64_t rows,
                            bool b_bcast, float imm) {
  isa::VectorArgs a;
  a.op = static_cast<uint64_t>(op);
  a.b_bcast = b_bcast ? 1 : 0;
  a.dst_row = dst_row;
  a.a_row = a_row;
  a.b_row = b_row;
  a.rows = rows;
  a.imm = isa::F32Bits(imm);
  Emit(isa::Make(isa::Opcode::VECTOR, a));
}

void CodegenContext::Halt() { Emit(isa::Make(isa::Opcode::HALT)); }

}  // namespace tpusim::compiler::codegen
