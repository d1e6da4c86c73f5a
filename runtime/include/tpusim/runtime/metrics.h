// Performance metrics of a run: the one place their formulas live (README, "Performance metrics").
// Everything is computed from simulator::RunStats and the isa::ArchConfig the run used; names follow
// the Cloud TPU profiler ("MXU utilization", "FLOPS utilization", "Memory bandwidth utilization").
//
// Units: cycles of arch.clock_mhz; bytes; MACs (one multiply-accumulate = 2 FLOPs); utilizations are
// fractions in [0, 1] (the text reports print percent). "DRAM bytes" are the bytes the DMA engines
// moved over the DRAM channel: DRAM->UB (LOAD) + DRAM->weights (LOAD_WEIGHTS) + UB->DRAM (STORE).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "isa/proto/arch_config.pb.h"
#include "isa/proto/program.pb.h"
#include "tpusim/isa/instruction.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::runtime {

// Which roof of the roofline limits a piece of work.
enum class Bound {
  kNone,     // no MACs and no DRAM bytes
  kCompute,  // operational intensity >= the ridge point: the MXU peak is the limit
  kMemory,   // below the ridge: DRAM bandwidth is the limit
};
std::string_view BoundName(Bound bound);  // "-", "compute", "memory"

// ---- Machine constants (from the ArchConfig) ------------------------------------------------------
// DRAM bytes per cycle: dram_bandwidth_gbps * 1e9 / (clock_mhz * 1e6).
double DramBytesPerCycle(const isa::ArchConfig& arch);
// (Peak MACs per cycle of the whole core is isa::PeakMacsPerCycle: array_rows * array_cols * mxu_count.)
// Peak FLOP/s: 2 * isa::PeakMacsPerCycle * clock (Hz).
double PeakFlopsPerSecond(const isa::ArchConfig& arch);
// The roofline's ridge point in MACs per DRAM byte: isa::PeakMacsPerCycle / DramBytesPerCycle (tpu-v1:
// 65,536 / 48.57 = 1,349).
double RidgeMacsPerByte(const isa::ArchConfig& arch);

// ---- Work of any size (a run, a layer) --------------------------------------------------------------
// Operational intensity in MACs per DRAM byte (+infinity when dram_bytes is 0 and macs is not).
double OperationalIntensity(uint64_t macs, uint64_t dram_bytes);
// kCompute when the intensity reaches the ridge, kMemory below it, kNone for no work.
Bound Classify(uint64_t macs, uint64_t dram_bytes, const isa::ArchConfig& arch);
// The fewest cycles the roofline allows: max(macs / isa::PeakMacsPerCycle, dram_bytes / DramBytesPerCycle).
double RooflineCycles(uint64_t macs, uint64_t dram_bytes, const isa::ArchConfig& arch);
// useful_macs / (cycles * isa::PeakMacsPerCycle); 0 when cycles is 0.
double MxuUtilization(uint64_t useful_macs, uint64_t cycles, const isa::ArchConfig& arch);

// DRAM bytes of a RunStats: dram_to_ub + dram_to_weights + ub_to_dram.
uint64_t DramBytes(const simulator::RunStats& stats);

// The bucket names in docs/timing.md order, and the values of a CycleBuckets in that order.
inline constexpr std::array<std::string_view, 7> kBucketNames = {
    "active", "weight_load_stall", "weight_shift", "input_stall", "non_matrix", "sync_wait", "idle"};
std::array<uint64_t, 7> BucketValues(const simulator::CycleBuckets& buckets);

// The metrics of one timed run (or of several launches accumulated). `timed` is false when the
// engine reported no cycles (the functional engine): then only the untimed fields are meaningful.
struct RunMetrics {
  bool timed = false;
  uint64_t cycles = 0;
  double simulated_seconds = 0;             // cycles / (clock_mhz * 1e6)
  uint64_t useful_macs = 0;
  uint64_t dram_bytes = 0;
  double operational_intensity = 0;         // useful MACs per DRAM byte
  double ridge_macs_per_byte = 0;
  Bound bound = Bound::kNone;
  double roofline_cycles = 0;               // RooflineCycles(useful_macs, dram_bytes)
  double peak_flops = 0;                    // FLOP/s
  double attainable_flops = 0;              // min(peak, 2 * intensity * DRAM bytes/s)
  double achieved_flops = 0;                // 2 * useful_macs / simulated_seconds
  // "MXU utilization": useful_macs / (cycles * R * C * mxu_count).
  double mxu_utilization = 0;
  // "FLOPS utilization (roofline)": achieved_flops / attainable_flops (= roofline_cycles / cycles).
  double flops_utilization = 0;
  // "HBM/DRAM bandwidth utilization": dram_bytes / (cycles * DramBytesPerCycle).
  double memory_bandwidth_utilization = 0;
  // Each bucket as a fraction of cycles (kBucketNames order); they sum to 1 on a timed run.
  std::array<double, 7> bucket_fractions{};
};
RunMetrics ComputeRunMetrics(const simulator::RunStats& stats, const isa::ArchConfig& arch);

// ---- Per graph op, from the program itself -----------------------------------------------------------
// What the instructions of one op (program.op_names index) do, counted statically from the code: the
// ISA has no data-dependent control flow, so these equal the engines' counts (useful MACs track the
// weight FIFO's tile extents exactly as MATMUL does; DMA bytes are rows x lanes|cols x dtype bytes).
struct OpCost {
  uint64_t useful_macs = 0;
  uint64_t dram_to_ub_bytes = 0;
  uint64_t dram_to_weights_bytes = 0;
  uint64_t ub_to_dram_bytes = 0;
  uint64_t dram_bytes() const { return dram_to_ub_bytes + dram_to_weights_bytes + ub_to_dram_bytes; }
};
// One entry per program.op_names; instructions without (valid) debug info are not attributed.
std::vector<OpCost> ProgramOpCosts(const isa::Program& program, const std::vector<isa::Instruction>& code);

}  // namespace tpusim::runtime
