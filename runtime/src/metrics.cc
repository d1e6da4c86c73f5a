#include "tpusim/runtime/metrics.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <optional>
#include <utility>

#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"

namespace tpusim::runtime {
namespace {

// isa::PeakMacsPerCycle as a real number.
double PeakMacs(const isa::ArchConfig& arch) { return static_cast<double>(isa::PeakMacsPerCycle(arch)); }

}  // namespace

std::string_view BoundName(Bound bound) {
  switch (bound) {
    case Bound::kCompute: return "compute";
    case Bound::kMemory: return "memory";
    case Bound::kNone: break;
  }
  return "-";
}

double DramBytesPerCycle(const isa::ArchConfig& arch) {
  return arch.clock_mhz() > 0 ? arch.dram_bandwidth_gbps() * 1e3 / arch.clock_mhz() : 0.0;
}

double PeakFlopsPerSecond(const isa::ArchConfig& arch) {
  return 2.0 * PeakMacs(arch) * arch.clock_mhz() * 1e6;
}

double RidgeMacsPerByte(const isa::ArchConfig& arch) {
  const double bw = DramBytesPerCycle(arch);
  return bw > 0 ? PeakMacs(arch) / bw : std::numeric_limits<double>::infinity();
}

double OperationalIntensity(uint64_t macs, uint64_t dram_bytes) {
  if (dram_bytes == 0) return macs == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return static_cast<double>(macs) / static_cast<double>(dram_bytes);
}

Bound Classify(uint64_t macs, uint64_t dram_bytes, const isa::ArchConfig& arch) {
  if (macs == 0 && dram_bytes == 0) return Bound::kNone;
  return OperationalIntensity(macs, dram_bytes) >= RidgeMacsPerByte(arch) ? Bound::kCompute : Bound::kMemory;
}

double RooflineCycles(uint64_t macs, uint64_t dram_bytes, const isa::ArchConfig& arch) {
  const double peak = PeakMacs(arch);
  const double bw = DramBytesPerCycle(arch);
  const double compute = peak > 0 ? static_cast<double>(macs) / peak : 0.0;
  const double memory = bw > 0 ? static_cast<double>(dram_bytes) / bw : 0.0;
  return std::max(compute, memory);
}

double MxuUtilization(uint64_t useful_macs, uint64_t cycles, const isa::ArchConfig& arch) {
  const double capacity = static_cast<double>(cycles) * PeakMacs(arch);
  return capacity > 0 ? static_cast<double>(useful_macs) / capacity : 0.0;
}

uint64_t DramBytes(const simulator::RunStats& stats) {
  return stats.dram_to_ub_bytes + stats.dram_to_weights_bytes + stats.ub_to_dram_bytes;
}

std::array<uint64_t, 7> BucketValues(const simulator::CycleBuckets& b) {
  return {b.active, b.weight_load_stall, b.weight_shift, b.input_stall, b.non_matrix, b.sync_wait, b.idle};
}

RunMetrics ComputeRunMetrics(const simulator::RunStats& stats, const isa::ArchConfig& arch) {
  RunMetrics m;
  m.cycles = stats.cycles;
  m.timed = stats.cycles > 0;
  m.useful_macs = stats.useful_macs;
  m.dram_bytes = DramBytes(stats);
  m.operational_intensity = OperationalIntensity(m.useful_macs, m.dram_bytes);
  m.ridge_macs_per_byte = RidgeMacsPerByte(arch);
  m.bound = Classify(m.useful_macs, m.dram_bytes, arch);
  m.roofline_cycles = RooflineCycles(m.useful_macs, m.dram_bytes, arch);
  m.peak_flops = PeakFlopsPerSecond(arch);
  const double dram_bytes_per_second = arch.dram_bandwidth_gbps() * 1e9;
  m.attainable_flops = std::min(m.peak_flops, 2.0 * m.operational_intensity * dram_bytes_per_second);
  if (!m.timed || arch.clock_mhz() <= 0) return m;
  const double cycles = static_cast<double>(m.cycles);
  m.simulated_seconds = cycles / (arch.clock_mhz() * 1e6);
  m.achieved_flops = 2.0 * static_cast<double>(m.useful_macs) / m.simulated_seconds;
  m.mxu_utilization = MxuUtilization(m.useful_macs, m.cycles, arch);
  m.flops_utilization = m.attainable_flops > 0 ? m.achieved_flops / m.attainable_flops : 0.0;
  const double bw = DramBytesPerCycle(arch);
  m.memory_bandwidth_utilization = bw > 0 ? static_cast<double>(m.dram_bytes) / (cycles * bw) : 0.0;
  const std::array<uint64_t, 7> buckets = BucketValues(stats.buckets);
  for (size_t i = 0; i < buckets.size(); ++i) m.bucket_fractions[i] = static_cast<double>(buckets[i]) / cycles;
  return m;
}

std::vector<OpCost> ProgramOpCosts(const isa::Program& program, const std::vector<isa::Instruction>& code) {
  std::vector<OpCost> costs(program.op_names_size());
  // Extents (rows, cols) of the tiles in the weight FIFO, and of the tile in the array.
  std::deque<std::pair<uint64_t, uint64_t>> fifo;
  std::pair<uint64_t, uint64_t> array{0, 0};
  const bool attributed = program.inst_op_size() == static_cast<int>(code.size());
  for (size_t i = 0; i < code.size(); ++i) {
    const isa::Instruction& inst = code[i];
    OpCost unattributed;
    const uint32_t op = attributed ? program.inst_op(static_cast<int>(i)) : 0;
    OpCost& cost = attributed && op < costs.size() ? costs[op] : unattributed;
    switch (inst.opcode) {
      case isa::Opcode::LOAD:
      case isa::Opcode::STORE: {
        const auto& a = inst.as<isa::DmaArgs>();
        const std::optional<isa::DType> dtype = isa::DTypeFromCode(a.dtype);
        const uint64_t bytes = a.rows * a.lanes * (dtype ? isa::DTypeBytes(*dtype) : 0);
        (inst.opcode == isa::Opcode::LOAD ? cost.dram_to_ub_bytes : cost.ub_to_dram_bytes) += bytes;
        break;
      }
      case isa::Opcode::LOAD_WEIGHTS: {
        const auto& a = inst.as<isa::WeightsArgs>();
        const std::optional<isa::DType> dtype = isa::DTypeFromCode(a.dtype);
        cost.dram_to_weights_bytes += a.rows * a.cols * (dtype ? isa::DTypeBytes(*dtype) : 0);
        fifo.emplace_back(a.rows, a.cols);
        break;
      }
      case isa::Opcode::MATMUL: {
        const auto& a = inst.as<isa::MatmulArgs>();
        if (a.pop_weights && !fifo.empty()) {
          array = fifo.front();
          fifo.pop_front();
        }
        cost.useful_macs += a.rows * array.first * array.second;
        break;
      }
      default:
        break;
    }
  }
  return costs;
}

}  // namespace tpusim::runtime
