// Functional engine: the DMA instructions LOAD, STORE and LOAD_WEIGHTS (opcodes.def, formats Dma
// and Weights). Element conversion is numerics::WidenToWord / NarrowFromWord and nothing else.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/simulator/functional_engine.h"

namespace tpusim::simulator::functional_detail {

namespace num = isa::numerics;

namespace {
// A DRAM access that the instruction's range check already admitted failed anyway: an engine bug.
absl::Status Internal(const absl::Status& s) {
  return absl::InternalError(absl::StrCat("checked DRAM access failed: ", s.message()));
}
}  // namespace

// The checks LOAD and STORE share: dtype, lanes within a UB row, UB rows, the strided DRAM range.
absl::StatusOr<Executor::DmaCheck> Executor::CheckDma(const isa::DmaArgs& a) const {
  TPUSIM_ASSIGN_OR_RETURN(const isa::DType dtype, CheckDType(a.dtype));
  const uint64_t bytes = isa::DTypeBytes(dtype);
  if (a.lanes > state_.lanes) {
    return Error(absl::StatusCode::kOutOfRange,
                 absl::StrCat("lanes ", a.lanes, " exceed the ", state_.lanes, "-lane UB row"));
  }
  TPUSIM_RETURN_IF_ERROR(CheckUbRows("", a.ub_row, a.rows));
  TPUSIM_ASSIGN_OR_RETURN(const uint64_t base, CheckDramRange(a.dram_addr, a.rows, a.lanes,
                                                              a.row_stride, a.lane_stride, bytes));
  return DmaCheck{dtype, bytes, base};
}

absl::Status Executor::ExecLOAD(const isa::DmaArgs& a) {
  TPUSIM_ASSIGN_OR_RETURN(const DmaCheck check, CheckDma(a));
  const isa::DType dtype = check.dtype;
  const uint64_t bytes = check.bytes;
  const uint64_t base = check.base;
  const uint64_t lanes = a.lanes;
  bytes_.resize(lanes * bytes);
  for (uint64_t r = 0; r < a.rows; ++r) {
    uint32_t* row = state_.ub_row(a.ub_row + r);
    const uint64_t row_addr = base + r * a.row_stride * bytes;
    if (a.lane_stride == 1) {
      if (absl::Status s = state_.dram.Read(row_addr, bytes_.data(), lanes * bytes); !s.ok()) {
        return Internal(s);
      }
    } else {
      for (uint64_t l = 0; l < lanes; ++l) {
        absl::Status s = state_.dram.Read(row_addr + l * a.lane_stride * bytes,
                                          bytes_.data() + l * bytes, bytes);
        if (!s.ok()) return Internal(s);
      }
    }
    for (uint64_t l = 0; l < lanes; ++l)
      row[l] = num::WidenToWord(dtype, bytes_.data() + l * bytes);
    std::fill(row + lanes, row + state_.lanes, 0u);
  }
  stats_.dram_to_ub_bytes += a.rows * lanes * bytes;
  return absl::OkStatus();
}

absl::Status Executor::ExecSTORE(const isa::DmaArgs& a) {
  TPUSIM_ASSIGN_OR_RETURN(const DmaCheck check, CheckDma(a));
  const isa::DType dtype = check.dtype;
  const uint64_t bytes = check.bytes;
  const uint64_t base = check.base;
  const uint64_t lanes = a.lanes;
  bytes_.resize(lanes * bytes);
  for (uint64_t r = 0; r < a.rows; ++r) {
    const uint32_t* row = state_.ub_row(a.ub_row + r);
    const uint64_t row_addr = base + r * a.row_stride * bytes;
    for (uint64_t l = 0; l < lanes; ++l)
      num::NarrowFromWord(dtype, row[l], bytes_.data() + l * bytes);
    if (a.lane_stride == 1) {
      if (absl::Status s = state_.dram.Write(row_addr, bytes_.data(), lanes * bytes); !s.ok()) {
        return Internal(s);
      }
    } else {
      // In (r, l) order, so with a zero stride the last element written wins.
      for (uint64_t l = 0; l < lanes; ++l) {
        absl::Status s = state_.dram.Write(row_addr + l * a.lane_stride * bytes,
                                           bytes_.data() + l * bytes, bytes);
        if (!s.ok()) return Internal(s);
      }
    }
  }
  stats_.ub_to_dram_bytes += a.rows * lanes * bytes;
  return absl::OkStatus();
}

absl::Status Executor::ExecLOAD_WEIGHTS(const isa::WeightsArgs& a) {
  TPUSIM_ASSIGN_OR_RETURN(const isa::DType dtype, CheckDType(a.dtype));
  const uint64_t bytes = isa::DTypeBytes(dtype);
  const uint64_t array_rows = state_.arch.array_rows(), array_cols = state_.arch.array_cols();
  if (a.rows > array_rows || a.cols > array_cols) {
    return Error(absl::StatusCode::kOutOfRange,
                 absl::StrCat("weight tile ", a.rows, "x", a.cols, " exceeds the ", array_rows, "x",
                              array_cols, " array"));
  }
  TPUSIM_RETURN_IF_ERROR(CheckMxu(a.mxu));
  std::deque<WeightTile>& fifo = state_.mxu[a.mxu].weight_fifo;
  const uint64_t depth = state_.arch.weight_fifo_depth();
  if (fifo.size() >= depth) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("weight FIFO overflow", OnMxu(a.mxu), ": it already holds ",
                              fifo.size(), " tiles (weight_fifo_depth ", depth, ")"));
  }
  TPUSIM_ASSIGN_OR_RETURN(const uint64_t base, CheckDramRange(a.dram_addr, a.rows, a.cols,
                                                              a.row_stride, a.col_stride, bytes));
  WeightTile tile(array_rows * array_cols, 0u);
  uint8_t element[4];
  for (uint64_t k = 0; k < a.rows; ++k) {
    for (uint64_t n = 0; n < a.cols; ++n) {
      const uint64_t addr = base + (k * a.row_stride + n * a.col_stride) * bytes;
      if (absl::Status s = state_.dram.Read(addr, element, bytes); !s.ok()) return Internal(s);
      const uint32_t word = num::WidenToWord(dtype, element);
      // Into the array's type: bf16 (RNE, FTZ) as fp32 bits, or an int8 value as an int32 word.
      tile[k * array_cols + n] =
          int8_mode() ? static_cast<uint32_t>(
                            static_cast<int32_t>(num::SaturateInt8(static_cast<int32_t>(word))))
                      : static_cast<uint32_t>(isa::F32Bits(num::RoundToBf16(isa::BitsF32(word))));
    }
  }
  fifo.push_back(std::move(tile));
  units_[a.mxu].fifo_extents.emplace_back(a.rows, a.cols);
  stats_.dram_to_weights_bytes += a.rows * a.cols * bytes;
  return absl::OkStatus();
}

}  // namespace tpusim::simulator::functional_detail
