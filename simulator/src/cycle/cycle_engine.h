// The cycle-accurate engine ("cycle"): a SystemC model of the chip that counts cycles by the timing
// model of docs/timing.md and applies every instruction's data effect through the functional
// engine's Executor, so its device memory is bit-identical to "functional" on every program whose
// cross-queue hazards are ordered by tokens or SYNC.
#pragma once

#include <memory>

#include "tpusim/simulator/engine.h"

namespace tpusim::simulator {

// Thread-safe: launches from any thread run one at a time on the process's SystemC kernel thread.
std::unique_ptr<Engine> MakeCycleEngine(const isa::ArchConfig& arch);

}  // namespace tpusim::simulator
