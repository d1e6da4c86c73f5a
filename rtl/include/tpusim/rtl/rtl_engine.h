// The `rtl` engine: the SystemVerilog core (rtl/sv/core) compiled by Verilator, driven by a C++
// harness that implements simulator::Engine. The harness serves the core's instruction port from the
// decoded program and its DMA port from DeviceState::dram with the cycle engine's DRAM channel model
// (docs/timing.md rule 3), so `rtl` and `cycle` see the same memory system.
//
// A core model is Verilated per core configuration (the ArchConfig fields the RTL is built from:
// array size, UB lanes, rows and banks, accumulator entries, weight FIFO depth, vector lanes,
// instruction queue depth). Any ArchConfig whose core fields equal a built model's runs on it;
// clock, DRAM bandwidth, latency and size are harness parameters and may differ.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "isa/proto/arch_config.pb.h"
#include "tpusim/isa/isa.h"

namespace tpusim::rtl {

// Registers "rtl" in simulator's engine registry. Idempotent and thread-safe. In a build without
// Verilator the engine is still registered; creating it works and every Run fails with a clear
// FailedPrecondition saying the build has no RTL core models.
void RegisterRtlEngine();

// The core models this build has ({"tiny", "rtl-16x16"}: the presets they are Verilated from);
// empty without Verilator.
std::vector<std::string> CoreModelNames();

// Whether `arch` matches a built core model (FailedPrecondition naming the models and the first
// differing field otherwise).
absl::Status CheckRtlArch(const isa::ArchConfig& arch);

// Every instruction of `code` is one the RTL core implements in `mode`; else Unimplemented naming the
// first one that is not, e.g. "instruction 7 (VECTOR exp): not implemented by the RTL core".
// Checked before a run starts: nothing runs and nothing is written.
absl::Status CheckRtlSupport(const std::vector<isa::Instruction>& code, isa::MatmulType mode);

}  // namespace tpusim::rtl
