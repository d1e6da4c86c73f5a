// The functional engine ("functional"): a bit-exact interpreter of the ISA in program order, no
// timing. Private to simulator/ (and its tests); other layers create it by name through
// CreateEngine.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tpusim/isa/instruction.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::simulator {

// Not thread-safe; one Run at a time per engine (the driver serializes launches on a device).
class FunctionalEngine final : public Engine {
 public:
  explicit FunctionalEngine(const isa::ArchConfig& arch) : arch_(arch) {}
  std::string_view name() const override { return "functional"; }
  // Launch::code may be null when Launch::program is set: the program's code is decoded first.
  absl::StatusOr<RunStats> Run(const Launch& launch, DeviceState& state) override;

 private:
  isa::ArchConfig arch_;
};

std::unique_ptr<Engine> MakeFunctionalEngine(const isa::ArchConfig& arch);

namespace functional_detail {

// FailedPrecondition unless `state` has the buffer shapes ResetOnChip gives it and the array size of
// `engine_arch` (every engine checks this before it runs anything).
absl::Status CheckStateShape(const isa::ArchConfig& engine_arch, const DeviceState& state);

// Executes one launch against one DeviceState. Every handler checks every access of its instruction
// before it changes any state, so a failing instruction leaves the state as the previous one left
// it.
class Executor {
 public:
  Executor(const Launch& launch, DeviceState& state);
  // Steps through `code` in program order until HALT.
  absl::StatusOr<RunStats> Run(const std::vector<isa::Instruction>& code);

  // Applies the data effect of one instruction, `index` being its position in the program (for error
  // messages and per-op attribution), and counts it in stats() (instructions, by_opcode, macs, bytes,
  // op_instructions, op_macs). A failing instruction changes nothing and is not counted. Run calls
  // this in program order; a timing engine calls it in the order its model applies the effects.
  absl::Status Step(uint64_t index, const isa::Instruction& inst);
  const RunStats& stats() const { return stats_; }
  bool halted() const { return halted_; }

 private:
  absl::Status Execute(const isa::Instruction& inst);
  // One handler per opcode of opcodes.def. Execute's switch is expanded from the table and names
  // Exec<NAME>, so an opcode added to the table without a handler here does not compile.
  struct DmaCheck {
    isa::DType dtype;
    uint64_t bytes;  // per element
    uint64_t base;   // absolute DRAM address of element (0, 0)
  };
  absl::StatusOr<DmaCheck> CheckDma(const isa::DmaArgs& a) const;
  absl::Status ExecLOAD(const isa::DmaArgs& a);
  absl::Status ExecSTORE(const isa::DmaArgs& a);
  absl::Status ExecLOAD_WEIGHTS(const isa::WeightsArgs& a);
  absl::Status ExecMATMUL(const isa::MatmulArgs& a);
  absl::Status ExecACTIVATE(const isa::ActivateArgs& a);
  absl::Status ExecVECTOR(const isa::VectorArgs& a);
  absl::Status ExecSIGNAL(const isa::TokenArgs& a);
  absl::Status ExecWAIT(const isa::TokenArgs& a);
  absl::Status ExecSYNC(const isa::NoneArgs& a);
  absl::Status ExecHALT(const isa::NoneArgs& a);

  // "instruction <index> (<MNEMONIC>): <what>" with the given code.
  absl::Status Error(absl::StatusCode code, std::string_view what) const;
  absl::StatusOr<isa::DType> CheckDType(uint64_t code) const;
  // OutOfRange unless rows [first, first + count) lie inside the UB / the accumulators.
  absl::Status CheckUbRows(std::string_view what, uint64_t first, uint64_t count) const;
  absl::Status CheckAccRows(uint64_t first, uint64_t count) const;
  // Checks a 2-D strided DRAM access of rows x cols elements of elem_bytes each, element (r, c) at
  // frame_base + addr + (r * row_stride + c * col_stride) * elem_bytes, and returns its absolute
  // base address. An access of zero elements touches nothing and always passes.
  absl::StatusOr<uint64_t> CheckDramRange(uint64_t addr, uint64_t rows, uint64_t cols,
                                          uint64_t row_stride, uint64_t col_stride,
                                          uint64_t elem_bytes) const;
  // OutOfRange unless `mxu` names one of the device's matrix units.
  absl::Status CheckMxu(uint64_t mxu) const;
  // " on mxu <m>" when the device has several matrix units, else "" (unit 0's messages stay as they
  // were before there were several).
  std::string OnMxu(uint64_t mxu) const;
  // Rebuilds unit `mxu`'s decoded copy of its array weights (state_.mxu[mxu].weights).
  absl::Status PrepareWeights(size_t mxu);
  bool int8_mode() const { return state_.mode == isa::INT8_INT32; }

  const Launch& launch_;
  DeviceState& state_;
  RunStats stats_;
  uint64_t index_ = 0;  // the instruction being executed
  isa::Opcode opcode_ = isa::Opcode::HALT;
  bool halted_ = false;

  // What the executor keeps per matrix unit, parallel to state_.mxu.
  struct UnitCache {
    // Weight extents (rows, cols of the LOAD_WEIGHTS that produced each tile), parallel to the
    // unit's weight_fifo, and of the tile in its array. Tiles already present when the launch
    // starts count as full tiles.
    std::deque<std::pair<uint64_t, uint64_t>> fifo_extents;
    std::pair<uint64_t, uint64_t> array_extent{0, 0};
    // The unit's array weights decoded once per pop: weights_f32 row-major (k * array_cols + n, the
    // layout numerics::TileDotBf16 takes); weights_i8 transposed (column n at [n * array_rows,
    // ...)). Valid when weights_ready, so alternating units decode nothing again.
    bool weights_ready = false;
    bool weights_have_nan = true;  // weights_f32 holds a NaN (selects numerics::TileDotBf16's path)
    std::vector<float> weights_f32;
    std::vector<int8_t> weights_i8;
  };
  std::vector<UnitCache> units_;
  // Scratch reused by handlers to avoid per-instruction allocation.
  std::vector<float> row_f32_;
  std::vector<float> dot_f32_;  // one array pass: array_cols column sums
  std::vector<int8_t> row_i8_;
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> words_;
};

}  // namespace functional_detail
}  // namespace tpusim::simulator
