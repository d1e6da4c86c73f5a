// DramTiming, DmaShapeOf and DramChannelModel (tpusim/simulator/dram_timing.h).
#include "tpusim/simulator/dram_timing.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <variant>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::simulator {
namespace {

using Wide = DramTiming::Wide;

uint64_t Saturate(Wide v) { return v > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(v); }

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

// x in millionths, rounded; false when it does not fit 63 bits (treated as unbounded by the caller).
bool Micro(double x, Wide* out) {
  const long double scaled = std::nearbyint(static_cast<long double>(x) * 1e6L);
  if (!std::isfinite(scaled) || scaled >= 9.0e18L || scaled < 0) return false;
  *out = static_cast<Wide>(static_cast<uint64_t>(scaled));
  return true;
}

}  // namespace

DmaShape DmaShapeOf(const isa::Instruction& inst) {
  const auto shape = [](uint64_t rows, uint64_t width, uint64_t dtype) {
    const std::optional<isa::DType> t = isa::DTypeFromCode(dtype);
    if (!t) return DmaShape{0, rows};  // a bad dtype fails when its effect is applied
    const uint64_t elements = Saturate(static_cast<Wide>(rows) * width);
    return DmaShape{Saturate(static_cast<Wide>(elements) * isa::DTypeBytes(*t)), rows};
  };
  switch (inst.opcode) {
    case isa::Opcode::LOAD_WEIGHTS: {
      const auto& a = std::get<isa::WeightsArgs>(inst.args);
      return shape(a.rows, a.cols, a.dtype);
    }
    case isa::Opcode::LOAD:
    case isa::Opcode::STORE: {
      const auto& a = std::get<isa::DmaArgs>(inst.args);
      return shape(a.rows, a.lanes, a.dtype);
    }
    default:
      return {};
  }
}

DramTiming DramTiming::FromArch(const isa::ArchConfig& arch) {
  DramTiming d;
  d.latency = arch.dram_latency_cycles();
  d.banks = std::max<uint64_t>(arch.ub_banks(), 1);
  // BW = gbps x 1e9 B/s / (clock_mhz x 1e6 /s) = (gbps_micro x 1000) / clock_micro bytes per cycle.
  Wide gbps_micro = 0, clock_micro = 0;
  if (!Micro(arch.dram_bandwidth_gbps(), &gbps_micro)) {
    d.unbounded_bandwidth = true;
  } else if (!Micro(arch.clock_mhz(), &clock_micro) || clock_micro == 0 || gbps_micro == 0) {
    // A validated ArchConfig never gets here; a zero rate would divide by zero, so treat it as 1.
    d.bw_num = 1;
    d.bw_den = 1;
  } else {
    d.bw_num = gbps_micro * 1000;
    d.bw_den = clock_micro;
  }
  return d;
}

uint64_t DramTiming::TransferCycles(uint64_t bytes) const {
  if (unbounded_bandwidth || bytes == 0) return 0;
  // bytes < 2^64 and bw_den < 9e18 < 2^63: the product fits 128 bits.
  const Wide num = static_cast<Wide>(bytes) * bw_den;
  return Saturate((num + bw_num - 1) / bw_num);
}

uint64_t DramTiming::HoldCycles(uint64_t bytes, uint64_t rows) const {
  const uint64_t port = rows / banks + (rows % banks != 0 ? 1 : 0);  // ceil(rows / banks)
  return std::max(TransferCycles(bytes), port);
}

void DramChannelModel::Reset() {
  free_at_ = 0;
  last_request_ = 0;
}

DramChannelModel::Grant DramChannelModel::Request(uint64_t now, uint64_t hold) {
  TPUSIM_CHECK(now >= last_request_, "DRAM requests must come in non-decreasing cycles");
  last_request_ = now;
  const uint64_t next = SaturatingAdd(now, 1);
  if (hold == 0) return {now, SaturatingAdd(now, timing_.latency), next};
  const uint64_t begin = std::max(now, free_at_);
  free_at_ = SaturatingAdd(begin, hold);
  return {begin, SaturatingAdd(free_at_, timing_.latency), std::max(free_at_, next)};
}

}  // namespace tpusim::simulator
