// DeviceState sizing/reset and RunStats accumulation (device_state.h, engine.h).
#include "tpusim/simulator/device_state.h"

#include <algorithm>

#include "tpusim/isa/arch_config.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::simulator {

DeviceState::DeviceState(const isa::ArchConfig& arch_config, isa::MatmulType matmul_mode)
    : arch(arch_config),
      mode(matmul_mode),
      lanes(isa::UbLanes(arch_config)),
      ub_rows(isa::UbRows(arch_config, matmul_mode)),
      dram(arch_config.dram_bytes()) {
  ResetOnChip(matmul_mode);
}

void DeviceState::ResetOnChip(isa::MatmulType matmul_mode) {
  mode = matmul_mode;
  lanes = isa::UbLanes(arch);
  ub_rows = isa::UbRows(arch, mode);
  ub.assign(ub_rows * lanes, 0);
  acc.assign(static_cast<size_t>(arch.accumulator_entries()) * arch.array_cols(), 0);
  mxu.assign(MxuCount(arch), MxuWeights{});
  semaphores.assign(256, 0);
}

DeviceState DeviceState::Clone() const {
  DeviceState copy(arch, mode);
  copy.dram = dram.Clone();
  copy.lanes = lanes;
  copy.ub_rows = ub_rows;
  copy.ub = ub;
  copy.acc = acc;
  copy.mxu = mxu;
  copy.semaphores = semaphores;
  return copy;
}

namespace {
void AddVectors(std::vector<uint64_t>& into, const std::vector<uint64_t>& from) {
  if (into.size() < from.size()) into.resize(from.size(), 0);
  for (size_t i = 0; i < from.size(); ++i) into[i] += from[i];
}
}  // namespace

void RunStats::Accumulate(const RunStats& other) {
  instructions += other.instructions;
  for (size_t i = 0; i < by_opcode.size(); ++i) by_opcode[i] += other.by_opcode[i];
  macs += other.macs;
  useful_macs += other.useful_macs;
  vector_elements += other.vector_elements;
  dram_to_ub_bytes += other.dram_to_ub_bytes;
  ub_to_dram_bytes += other.ub_to_dram_bytes;
  dram_to_weights_bytes += other.dram_to_weights_bytes;
  cycles += other.cycles;
  buckets.active += other.buckets.active;
  buckets.weight_load_stall += other.buckets.weight_load_stall;
  buckets.weight_shift += other.buckets.weight_shift;
  buckets.input_stall += other.buckets.input_stall;
  buckets.non_matrix += other.buckets.non_matrix;
  buckets.sync_wait += other.buckets.sync_wait;
  buckets.idle += other.buckets.idle;
  ub_to_array_bytes += other.ub_to_array_bytes;
  accumulator_bytes += other.accumulator_bytes;
  AddVectors(op_instructions, other.op_instructions);
  AddVectors(op_macs, other.op_macs);
  AddVectors(op_cycles, other.op_cycles);
  // Traces are per launch; an accumulated report keeps none (timelines are written per launch).
}

}  // namespace tpusim::simulator
