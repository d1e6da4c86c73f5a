// Functional engine: the compute instructions MATMUL, ACTIVATE and VECTOR (opcodes.def, formats
// Matmul, Activate and Vector). All arithmetic is isa::numerics; nothing is computed here directly
// except int32 wrap-around adds and the integer relu of int8 mode.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/simulator/functional_engine.h"

#include <cmath>

namespace tpusim::simulator::functional_detail {

namespace num = isa::numerics;

namespace {
inline float AsF32(uint32_t word) { return isa::BitsF32(word); }
inline uint32_t AsWord(float f) { return static_cast<uint32_t>(isa::F32Bits(f)); }
// int32 addition with two's-complement wrap-around (no signed overflow).
inline uint32_t WrapAdd(uint32_t a, uint32_t b) { return a + b; }
inline uint32_t IntRelu(uint32_t w) { return static_cast<int32_t>(w) < 0 ? 0u : w; }
}  // namespace

absl::Status Executor::PrepareWeights(size_t mxu) {
  const size_t rows = state_.arch.array_rows(), cols = state_.arch.array_cols();
  const WeightTile& w = state_.mxu[mxu].weights;
  UnitCache& unit = units_[mxu];
  if (int8_mode()) {
    unit.weights_i8.resize(rows * cols);
    for (size_t k = 0; k < rows; ++k) {
      for (size_t n = 0; n < cols; ++n) {
        unit.weights_i8[n * rows + k] = static_cast<int8_t>(static_cast<int32_t>(w[k * cols + n]));
      }
    }
  } else {
    unit.weights_f32.resize(rows * cols);
    unit.weights_have_nan = false;
    for (size_t k = 0; k < rows; ++k) {
      for (size_t n = 0; n < cols; ++n) {
        unit.weights_f32[k * cols + n] = AsF32(w[k * cols + n]);
        unit.weights_have_nan |= std::isnan(unit.weights_f32[k * cols + n]);
      }
    }
  }
  unit.weights_ready = true;
  return absl::OkStatus();
}

absl::Status Executor::ExecMATMUL(const isa::MatmulArgs& a) {
  TPUSIM_ASSIGN_OR_RETURN(const isa::DType dtype, CheckDType(a.dtype));
  const isa::DType expected = int8_mode() ? isa::DType::I8 : isa::DType::BF16;
  if (dtype != expected) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("dtype ", std::string(isa::DTypeName(dtype)),
                              " does not match the device's ", isa::MatmulType_Name(state_.mode),
                              " mode (expects ", std::string(isa::DTypeName(expected)), ")"));
  }
  TPUSIM_RETURN_IF_ERROR(CheckUbRows("", a.ub_row, a.rows));
  TPUSIM_RETURN_IF_ERROR(CheckAccRows(a.acc_row, a.rows));
  TPUSIM_RETURN_IF_ERROR(CheckMxu(a.mxu));
  MxuWeights& mxu = state_.mxu[a.mxu];
  UnitCache& unit = units_[a.mxu];
  if (a.pop_weights) {
    if (mxu.weight_fifo.empty()) {
      return Error(absl::StatusCode::kFailedPrecondition,
                   absl::StrCat("weight FIFO underflow", OnMxu(a.mxu),
                                ": pop_weights=1 but the FIFO is empty"));
    }
  } else if (mxu.weights.empty()) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("no weights were ever loaded into the array", OnMxu(a.mxu),
                              " (pop_weights=0)"));
  }
  // Every check passed: from here on the instruction changes state.
  if (a.pop_weights) {
    mxu.weights = std::move(mxu.weight_fifo.front());
    mxu.weight_fifo.pop_front();
    unit.array_extent = unit.fifo_extents.front();
    unit.fifo_extents.pop_front();
    unit.weights_ready = false;
  }
  if (!unit.weights_ready) TPUSIM_RETURN_IF_ERROR(PrepareWeights(a.mxu));

  const int rows = static_cast<int>(state_.arch.array_rows());
  const size_t cols = state_.arch.array_cols();
  for (uint64_t r = 0; r < a.rows; ++r) {
    const uint32_t* in = state_.ub_row(a.ub_row + r);
    uint32_t* out = state_.acc_row(a.acc_row + r);
    if (int8_mode()) {
      for (int k = 0; k < rows; ++k) row_i8_[k] = num::SaturateInt8(static_cast<int32_t>(in[k]));
      for (size_t n = 0; n < cols; ++n) {
        const auto s = static_cast<uint32_t>(
            num::ColumnDotInt8(row_i8_.data(), unit.weights_i8.data() + n * rows, rows, 1));
        out[n] = a.accumulate ? WrapAdd(out[n], s) : s;
      }
    } else {
      for (int k = 0; k < rows; ++k) row_f32_[k] = num::RoundToBf16(AsF32(in[k]));
      num::TileDotBf16(row_f32_.data(), unit.weights_f32.data(), rows, static_cast<int>(cols),
                       dot_f32_.data(), unit.weights_have_nan);
      for (size_t n = 0; n < cols; ++n) {
        const float s = dot_f32_[n];
        out[n] = AsWord(a.accumulate ? num::AddF32(AsF32(out[n]), s) : s);
      }
    }
  }
  stats_.macs += a.rows * static_cast<uint64_t>(rows) * cols;
  stats_.useful_macs += a.rows * unit.array_extent.first * unit.array_extent.second;
  return absl::OkStatus();
}

absl::Status Executor::ExecACTIVATE(const isa::ActivateArgs& a) {
  std::optional<isa::ActFunc> func = isa::ActFuncFromCode(a.func);
  if (!func) {
    return Error(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("unknown activation code ", a.func));
  }
  if (int8_mode() && *func != isa::ActFunc::None && *func != isa::ActFunc::Relu &&
      *func != isa::ActFunc::Requantize) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("activation ", std::string(isa::ActFuncName(*func)),
                              " is not supported in int8 mode"));
  }
  if (!int8_mode() && *func == isa::ActFunc::Requantize) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 "activation requantize is an int8-mode activation (int32 accumulators)");
  }
  TPUSIM_RETURN_IF_ERROR(CheckAccRows(a.acc_row, a.rows));
  TPUSIM_RETURN_IF_ERROR(CheckUbRows("", a.ub_row, a.rows));
  if (a.has_bias) TPUSIM_RETURN_IF_ERROR(CheckUbRows("bias ", a.bias_row, 1));

  const size_t cols = state_.arch.array_cols();
  // The bias row is copied first: the destination rows may include it.
  words_.assign(cols, 0u);
  if (a.has_bias) std::memcpy(words_.data(), state_.ub_row(a.bias_row), cols * sizeof(uint32_t));
  for (uint64_t r = 0; r < a.rows; ++r) {
    const uint32_t* in = state_.acc_row(a.acc_row + r);
    uint32_t* out = state_.ub_row(a.ub_row + r);
    if (int8_mode()) {
      for (size_t n = 0; n < cols; ++n) {
        const uint32_t v = a.has_bias ? WrapAdd(in[n], words_[n]) : in[n];
        if (*func == isa::ActFunc::Requantize) {
          const int8_t q = num::Requantize(static_cast<int32_t>(v), isa::BitsF32(a.scale),
                                           static_cast<int8_t>(static_cast<uint8_t>(a.zero_point)));
          out[n] = static_cast<uint32_t>(int32_t{q});
        } else {
          out[n] = *func == isa::ActFunc::Relu ? IntRelu(v) : v;
        }
      }
    } else {
      for (size_t n = 0; n < cols; ++n) {
        const float v = a.has_bias ? num::AddF32(AsF32(in[n]), AsF32(words_[n])) : AsF32(in[n]);
        out[n] = AsWord(num::Activation(*func, v));
      }
    }
    std::fill(out + cols, out + state_.lanes, 0u);
  }
  stats_.vector_elements += a.rows * state_.lanes;
  return absl::OkStatus();
}

absl::Status Executor::ExecVECTOR(const isa::VectorArgs& a) {
  std::optional<isa::VectorOp> op = isa::VectorOpFromCode(a.op);
  if (!op)
    return Error(absl::StatusCode::kInvalidArgument, absl::StrCat("unknown vector op code ", a.op));
  if (int8_mode() && *op != isa::VectorOp::Copy && *op != isa::VectorOp::Relu) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("vector op ", std::string(isa::VectorOpName(*op)),
                              " is not supported in int8 mode"));
  }
  const isa::VectorArity arity = isa::VectorOpArity(*op);
  const uint64_t lanes = state_.lanes;
  if (arity == isa::VectorArity::Reduce) {
    if (a.rows == 0) {
      return Error(absl::StatusCode::kInvalidArgument,
                   absl::StrCat(std::string(isa::VectorOpName(*op)), " over 0 rows has no value"));
    }
    TPUSIM_RETURN_IF_ERROR(CheckUbRows("source ", a.a_row, a.rows));
    TPUSIM_RETURN_IF_ERROR(CheckUbRows("destination ", a.dst_row, 1));
    // Reduce ops are floating point; int8 mode rejected them above.
    words_.assign(state_.ub_row(a.a_row), state_.ub_row(a.a_row) + lanes);
    for (uint64_t r = 1; r < a.rows; ++r) {
      const uint32_t* in = state_.ub_row(a.a_row + r);
      for (uint64_t l = 0; l < lanes; ++l) {
        words_[l] = AsWord(num::VectorReduceStep(*op, AsF32(words_[l]), AsF32(in[l])));
      }
    }
    std::memcpy(state_.ub_row(a.dst_row), words_.data(), lanes * sizeof(uint32_t));
    stats_.vector_elements += lanes;
    return absl::OkStatus();
  }

  TPUSIM_RETURN_IF_ERROR(CheckUbRows("destination ", a.dst_row, a.rows));
  TPUSIM_RETURN_IF_ERROR(CheckUbRows("source a ", a.a_row, a.rows));
  const bool binary = arity == isa::VectorArity::Binary;
  if (binary) TPUSIM_RETURN_IF_ERROR(CheckUbRows("source b ", a.b_row, a.b_bcast ? 1 : a.rows));

  // Results go to scratch first: every source row is read before any destination row is written.
  words_.resize(a.rows * lanes);
  for (uint64_t r = 0; r < a.rows; ++r) {
    const uint32_t* x = state_.ub_row(a.a_row + r);
    const uint32_t* y = binary ? state_.ub_row(a.b_bcast ? a.b_row : a.b_row + r) : x;
    uint32_t* out = words_.data() + r * lanes;
    if (int8_mode()) {
      for (uint64_t l = 0; l < lanes; ++l)
        out[l] = *op == isa::VectorOp::Relu ? IntRelu(x[l]) : x[l];
    } else {
      for (uint64_t l = 0; l < lanes; ++l) {
        out[l] = num::VectorElementwiseWord(*op, x[l], y[l], static_cast<uint32_t>(a.imm));
      }
    }
  }
  if (a.rows > 0) {
    std::memcpy(state_.ub_row(a.dst_row), words_.data(), a.rows * lanes * sizeof(uint32_t));
  }
  stats_.vector_elements += a.rows * lanes;
  return absl::OkStatus();
}

}  // namespace tpusim::simulator::functional_detail
