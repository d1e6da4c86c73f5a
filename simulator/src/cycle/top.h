// The cycle engine's module hierarchy: one of each unit of docs/timing.md, built once per process on
// the kernel thread (SystemC allows one elaboration per process) and reused by every launch.
#pragma once

#include <memory>
#include <systemc>

#include "compute_units.h"
#include "controller.h"
#include "instruction_queue.h"
#include "job.h"
#include "memory_units.h"
#include "wiring.h"

namespace tpusim::simulator::cycle {

class Chip : public sc_core::sc_module {
 public:
  explicit Chip(sc_core::sc_module_name name);
  // Runs one launch to HALT, a device error or a deadlock; the outcome is in job.status/halted/cycles.
  // Kernel thread only.
  void Run(Job& job);

 private:
  absl::Status Deadlock(const Job& job) const;

  Wiring wiring_;
  Controller controller_;
  InstructionQueue load_queue_;
  InstructionQueue compute_queue_;
  InstructionQueue store_queue_;
  DramChannel dram_;
  DmaEngine load_dma_;
  DmaEngine weight_dma_;
  DmaEngine store_dma_;
  WeightPath weights_;
  Mxu mxu_;
  VectorUnit vector_;
};

// The process's Chip, elaborated on first use. Kernel thread only.
Chip& TheChip();

}  // namespace tpusim::simulator::cycle
