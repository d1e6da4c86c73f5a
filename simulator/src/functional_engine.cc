// The functional engine: launch validation, the program-order loop, dispatch expanded from
// opcodes.def, the shared bounds checks, and the control instructions (SIGNAL, WAIT, SYNC, HALT).
// The data-moving and computing handlers live in functional_dma.cc and functional_compute.cc.
#include "tpusim/simulator/functional_engine.h"

#include <algorithm>

#include <limits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/program.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::simulator {

std::unique_ptr<Engine> MakeFunctionalEngine(const isa::ArchConfig& arch) {
  return std::make_unique<FunctionalEngine>(arch);
}

namespace {

// Hex text of a 128-bit address (only used in error messages).
std::string Hex128(unsigned __int128 v) {
  const uint64_t hi = static_cast<uint64_t>(v >> 64), lo = static_cast<uint64_t>(v);
  return hi ? absl::StrFormat("0x%x%016x", hi, lo) : absl::StrFormat("0x%x", lo);
}

// The end of rows [first, first + count) as text, exact even where the sum wraps 64 bits.
std::string RowEnd(uint64_t first, uint64_t count) {
  return first + count >= first ? absl::StrCat(first + count) : absl::StrCat(first, " + ", count);
}

// a * b, saturated at 2^127 (inputs are at most 2^64 - 1 and sums of two saturated values still
// fit).
unsigned __int128 MulSat(unsigned __int128 a, unsigned __int128 b) {
  constexpr unsigned __int128 kCap = static_cast<unsigned __int128>(1) << 127;
  if (a == 0 || b == 0) return 0;
  if (a > kCap / b) return kCap;
  return a * b;
}

}  // namespace

absl::StatusOr<RunStats> FunctionalEngine::Run(const Launch& launch, DeviceState& state) {
  TPUSIM_RETURN_IF_ERROR(functional_detail::CheckStateShape(arch_, state));
  std::vector<isa::Instruction> decoded;
  const std::vector<isa::Instruction>* code = launch.code;
  if (code == nullptr) {
    if (launch.program == nullptr) {
      return absl::InvalidArgumentError("launch has neither decoded code nor a program");
    }
    TPUSIM_ASSIGN_OR_RETURN(decoded, isa::DecodeCode(*launch.program));
    code = &decoded;
  }
  functional_detail::Executor executor(launch, state);
  TPUSIM_ASSIGN_OR_RETURN(RunStats stats, executor.Run(*code));
  stats.engine = std::string(name());
  return stats;
}

namespace functional_detail {

// The state's vectors must have the shapes ResetOnChip gives them; a caller that resized them gets
// an error instead of an out-of-bounds access.
absl::Status CheckStateShape(const isa::ArchConfig& engine_arch, const DeviceState& s) {
  const isa::ArchConfig& a = s.arch;
  if (a.array_rows() != engine_arch.array_rows() || a.array_cols() != engine_arch.array_cols()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "device state is for a %ux%u array but the engine was created for %ux%u", a.array_rows(),
        a.array_cols(), engine_arch.array_rows(), engine_arch.array_cols()));
  }
  if (s.mode != isa::BF16_FP32 && s.mode != isa::INT8_INT32) {
    return absl::FailedPreconditionError(
        absl::StrCat("device state has no matmul mode (", isa::MatmulType_Name(s.mode), ")"));
  }
  const uint64_t rows = a.array_rows(), cols = a.array_cols();
  if (MxuCount(a) != MxuCount(engine_arch)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "device state has %u matrix units but the engine was created for %u (mxu_count)",
        MxuCount(a), MxuCount(engine_arch)));
  }
  const bool ok = a.array_rows() > 0 && a.array_cols() > 0 && s.lanes >= rows && s.lanes >= cols &&
                  s.ub.size() == s.ub_rows * s.lanes &&
                  s.acc.size() == uint64_t{a.accumulator_entries()} * cols &&
                  s.mxu.size() == MxuCount(a);
  if (!ok) {
    return absl::FailedPreconditionError(
        "device state buffers do not match its ArchConfig (call ResetOnChip)");
  }
  for (const MxuWeights& unit : s.mxu) {
    if (!unit.weights.empty() && unit.weights.size() != rows * cols) {
      return absl::FailedPreconditionError(
          "device state buffers do not match its ArchConfig (call ResetOnChip)");
    }
    for (const WeightTile& t : unit.weight_fifo) {
      if (t.size() != rows * cols) {
        return absl::FailedPreconditionError("a weight FIFO tile does not match the array size");
      }
    }
  }
  return absl::OkStatus();
}

Executor::Executor(const Launch& launch, DeviceState& state) : launch_(launch), state_(state) {
  const uint64_t rows = state.arch.array_rows(), cols = state.arch.array_cols();
  units_.resize(state.mxu.size());
  for (size_t m = 0; m < units_.size(); ++m) {
    units_[m].fifo_extents.assign(state.mxu[m].weight_fifo.size(), {rows, cols});
    if (!state.mxu[m].weights.empty()) units_[m].array_extent = {rows, cols};
  }
  row_f32_.resize(rows);
  dot_f32_.resize(cols);
  row_i8_.resize(rows);
  if (launch.program != nullptr) {
    stats_.op_instructions.assign(launch.program->op_names_size(), 0);
    stats_.op_macs.assign(launch.program->op_names_size(), 0);
  }
}

absl::StatusOr<RunStats> Executor::Run(const std::vector<isa::Instruction>& code) {
  for (uint64_t index = 0; index < code.size(); ++index) {
    TPUSIM_RETURN_IF_ERROR(Step(index, code[index]));
    if (halted_) return stats_;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("program ran off the end of its ", code.size(), " instructions without a HALT"));
}

absl::Status Executor::Step(uint64_t index, const isa::Instruction& inst) {
  index_ = index;
  opcode_ = inst.opcode;
  const uint64_t macs_before = stats_.macs;
  TPUSIM_RETURN_IF_ERROR(Execute(inst));
  ++stats_.instructions;
  ++stats_.by_opcode[isa::OpcodeIndex(inst.opcode)];
  const isa::Program* program = launch_.program;
  if (program != nullptr && index < static_cast<uint64_t>(program->inst_op_size())) {
    // An index outside op_names (malformed debug info) is not attributed.
    const size_t op = program->inst_op(static_cast<int>(index));
    if (op < stats_.op_instructions.size()) {
      ++stats_.op_instructions[op];
      stats_.op_macs[op] += stats_.macs - macs_before;
    }
  }
  return absl::OkStatus();
}

absl::Status Executor::Execute(const isa::Instruction& inst) {
  switch (inst.opcode) {
#define TPUSIM_OPCODE(NAME, CODE, FORMAT, QUEUE, MNEMONIC)               \
  case isa::Opcode::NAME:                                                \
    if (const auto* args = std::get_if<isa::FORMAT##Args>(&inst.args)) { \
      return Exec##NAME(*args);                                          \
    }                                                                    \
    return Error(absl::StatusCode::kInvalidArgument,                     \
                 "operands are not of the " #FORMAT " format the opcode requires");
#include "tpusim/isa/opcodes.def"
  }
  return Error(absl::StatusCode::kInvalidArgument, "unknown opcode");
}

absl::Status Executor::Error(absl::StatusCode code, std::string_view what) const {
  const uint8_t raw = static_cast<uint8_t>(opcode_);
  const std::string name = isa::OpcodeFromCode(raw).has_value()
                               ? std::string(isa::Mnemonic(opcode_))
                               : absl::StrFormat("opcode 0x%02x", raw);
  return absl::Status(code,
                      absl::StrCat("instruction ", index_, " (", name, "): ", std::string(what)));
}

absl::StatusOr<isa::DType> Executor::CheckDType(uint64_t code) const {
  std::optional<isa::DType> dtype = isa::DTypeFromCode(code);
  if (!dtype)
    return Error(absl::StatusCode::kInvalidArgument, absl::StrCat("unknown dtype code ", code));
  return *dtype;
}

absl::Status Executor::CheckMxu(uint64_t mxu) const {
  const size_t count = state_.mxu.size();
  if (mxu >= count) {
    return Error(absl::StatusCode::kOutOfRange,
                 absl::StrCat("mxu ", mxu, " is not one of the ", count, " matrix unit",
                              count == 1 ? "" : "s", " of arch '", state_.arch.name(),
                              "' (mxu_count ", state_.arch.mxu_count(), ")"));
  }
  return absl::OkStatus();
}

std::string Executor::OnMxu(uint64_t mxu) const {
  return state_.mxu.size() > 1 ? absl::StrCat(" on mxu ", mxu) : std::string();
}

absl::Status Executor::CheckUbRows(std::string_view what, uint64_t first, uint64_t count) const {
  if (count > state_.ub_rows || first > state_.ub_rows - count) {
    return Error(absl::StatusCode::kOutOfRange,
                 absl::StrCat(std::string(what), "UB rows [", first, ", ", RowEnd(first, count),
                              ") exceed the ", state_.ub_rows, "-row unified buffer"));
  }
  return absl::OkStatus();
}

absl::Status Executor::CheckAccRows(uint64_t first, uint64_t count) const {
  const uint64_t entries = state_.arch.accumulator_entries();
  if (count > entries || first > entries - count) {
    return Error(absl::StatusCode::kOutOfRange,
                 absl::StrCat("accumulator rows [", first, ", ", RowEnd(first, count),
                              ") exceed the ", entries, "-row accumulators"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Executor::CheckDramRange(uint64_t addr, uint64_t rows, uint64_t cols,
                                                  uint64_t row_stride, uint64_t col_stride,
                                                  uint64_t elem_bytes) const {
  using U128 = unsigned __int128;
  const U128 base = static_cast<U128>(launch_.frame_base) + addr;
  if (rows == 0 || cols == 0) return static_cast<uint64_t>(base);  // touches nothing
  const U128 last_index = MulSat(rows - 1, row_stride) + MulSat(cols - 1, col_stride);
  const U128 end = base + MulSat(last_index, elem_bytes) + elem_bytes;
  // A program may only touch its own frame (other allocations on the device stay intact); without a
  // program (hand-built launches in tests) the whole DRAM is addressable.
  const uint64_t size = state_.dram.size();
  const bool framed = launch_.program != nullptr && launch_.program->frame_bytes() > 0;
  const U128 limit = framed ? std::min<U128>(static_cast<U128>(launch_.frame_base) +
                                                 launch_.program->frame_bytes(), size)
                            : static_cast<U128>(size);
  if (end > limit) {
    return Error(absl::StatusCode::kOutOfRange,
                 absl::StrCat("DRAM range [", Hex128(base), ", ", Hex128(end), ") (frame base ",
                              Hex128(launch_.frame_base), " + address ", Hex128(addr), ", ", rows,
                              "x", cols, " elements, strides ", row_stride, "/", col_stride,
                              ") exceeds ",
                              framed ? absl::StrCat("the program's ", launch_.program->frame_bytes(),
                                                    "-byte frame")
                                     : absl::StrCat("the ", size, "-byte DRAM")));
  }
  return static_cast<uint64_t>(base);
}

// ---- Control
// ---------------------------------------------------------------------------------------

namespace {
constexpr std::string_view kTokenQueueHelp = "only load, compute and store queues exchange tokens";
}  // namespace

absl::Status Executor::ExecSIGNAL(const isa::TokenArgs& a) {
  std::optional<isa::Queue> queue = isa::QueueFromCode(a.queue);
  if (!queue || *queue == isa::Queue::Control) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("invalid queue code ", a.queue, ": ", std::string(kTokenQueueHelp)));
  }
  if (a.channel >= state_.semaphores.size()) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("channel ", a.channel, " is not one of the ",
                              state_.semaphores.size(), " token channels"));
  }
  uint32_t& sem = state_.semaphores[a.channel];
  if (sem == std::numeric_limits<uint32_t>::max()) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("token count of channel ", a.channel, " overflows"));
  }
  ++sem;
  return absl::OkStatus();
}

absl::Status Executor::ExecWAIT(const isa::TokenArgs& a) {
  std::optional<isa::Queue> queue = isa::QueueFromCode(a.queue);
  if (!queue || *queue == isa::Queue::Control) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("invalid queue code ", a.queue, ": ", std::string(kTokenQueueHelp)));
  }
  if (a.channel >= state_.semaphores.size()) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("channel ", a.channel, " is not one of the ",
                              state_.semaphores.size(), " token channels"));
  }
  uint32_t& sem = state_.semaphores[a.channel];
  if (sem == 0) {
    return Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("deadlock: queue ", std::string(isa::QueueName(*queue)), " waits on channel ",
                     a.channel, " but no earlier SIGNAL left a token"));
  }
  --sem;
  return absl::OkStatus();
}

absl::Status Executor::ExecSYNC(const isa::NoneArgs&) { return absl::OkStatus(); }

absl::Status Executor::ExecHALT(const isa::NoneArgs&) {
  halted_ = true;
  return absl::OkStatus();
}

}  // namespace functional_detail
}  // namespace tpusim::simulator
