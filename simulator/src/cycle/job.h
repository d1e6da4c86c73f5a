// One launch on the cycle engine: its inputs, the functional Executor that applies each
// instruction's data effect, the cycle records every module fills, and the result. Created by the
// calling thread; everything but the progress counters is touched only by the SystemC kernel thread
// while the launch runs (the caller waits).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "tpusim/isa/instruction.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"
#include "tpusim/simulator/functional_engine.h"
#include "mxu_timing.h"
#include "timing_params.h"

namespace tpusim::simulator::cycle {

inline constexpr uint64_t kNever = UINT64_MAX;
inline constexpr uint32_t kNoTile = UINT32_MAX;
inline constexpr size_t kTokenChannels = 256;

// Cycles of one instruction, from the launch start; kNever until it happens.
struct InstTimes {
  uint64_t dispatch = kNever;
  // When it was at the head of its queue with every queue-order constraint met (rule 2): from here a
  // MATMUL waits only for weights and a WAIT only for its token. SYNC: when the controller reached it.
  uint64_t ready = kNever;
  uint64_t start = kNever;
  uint64_t end = kNever;  // completion
};

class Job {
 public:
  // `mxu` is the timing of the arch's dataflow (MakeMxuTiming); the Job owns it.
  Job(const Launch& launch, DeviceState& state, const std::vector<isa::Instruction>& code,
      const isa::ArchConfig& arch, std::unique_ptr<const MxuTiming> mxu);

  const Launch& launch;
  DeviceState& state;
  const std::vector<isa::Instruction>& code;
  const TimingParams params;
  const std::unique_ptr<const MxuTiming> mxu;  // MATMUL and weight-path timing of the dataflow

  // Per instruction (index = program position).
  std::vector<InstTimes> times;
  std::vector<uint32_t> popped_tile;   // MATMUL pop_weights=1: the tile it took, else kNoTile
  // Per weight tile, in FIFO order (tiles present at launch first): when it entered the FIFO.
  std::vector<uint64_t> tile_arrival;
  // Tokens per channel: present at launch plus every SIGNAL completed so far (never decreases).
  std::array<uint64_t, kTokenChannels> tokens_signalled{};

  absl::Status status;   // the first device error (the run stops), or the deadlock
  bool halted = false;
  uint64_t cycles = 0;   // valid when halted

  // Written by the kernel thread, read by the caller for Launch::progress.
  std::atomic<uint64_t> progress_cycle{0};
  std::atomic<uint64_t> progress_done{0};

  // The current cycle, counted from the launch start. Kernel thread only.
  uint64_t Now() const;
  void SetStart();  // the current SystemC time is cycle 0
  bool failed() const { return !status.ok(); }
  bool running() const { return status.ok() && !halted; }
  // Applies instruction i's data effect through the Executor; a device error stops the run (false).
  bool Apply(uint32_t i);
  void Fail(absl::Status s);
  RunStats ExecutorStats() const { return executor_.stats(); }

 private:
  functional_detail::Executor executor_;
  uint64_t base_ = 0;  // SystemC time value of cycle 0
};

}  // namespace tpusim::simulator::cycle
