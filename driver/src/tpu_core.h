// Private: the tpu backend's device core (DRAM address space, device state, engine) and its loaded
// programs. Device addresses on a tpu device are byte addresses of the simulated DRAM.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "address_space.h"
#include "stream_impl.h"
#include "tpusim/driver/driver.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::driver::detail {

class TpuCore;

// The waveform file of launch `index` of a device (DeviceOptions::vcd_path): `path` itself for launch
// 0, else `path` with ".<index>" inserted before its extension.
std::string VcdPathForLaunch(const std::string& path, uint64_t index);

// A program loaded on a TpuCore. Shared by its Executable and the launches queued with it; the last
// owner frees the frame.
struct LoadedProgram {
  ~LoadedProgram();
  std::shared_ptr<TpuCore> core;
  isa::Program program;
  std::vector<isa::Instruction> code;  // decoded once at load
  isa::MatmulType mode = isa::BF16_FP32;
  DeviceMemory frame;                  // DRAM frame; instruction addresses are offsets from its start
  std::vector<uint64_t> input_bytes;   // per binding, program.inputs order
  std::vector<uint64_t> output_bytes;  // per binding, program.outputs order
};

class TpuExecutable final : public Executable {
 public:
  explicit TpuExecutable(std::shared_ptr<const LoadedProgram> loaded) : loaded_(std::move(loaded)) {}
  const isa::Program& program() const override { return loaded_->program; }
  DeviceMemory frame() const override { return loaded_->frame; }
  const std::shared_ptr<const LoadedProgram>& loaded() const { return loaded_; }

 private:
  std::shared_ptr<const LoadedProgram> loaded_;
};

class TpuCore final : public StreamBackend, public std::enable_shared_from_this<TpuCore> {
 public:
  // `options.arch` must already be valid; NotFound (listing the engines) for an unknown engine.
  static absl::StatusOr<std::shared_ptr<TpuCore>> Create(std::string name, const DeviceOptions& options);

  const std::string& name() const { return name_; }
  const isa::ArchConfig& arch() const { return arch_; }
  const std::string& engine_name() const { return engine_name_; }
  AddressSpace& space() { return space_; }
  const AddressSpace& space() const { return space_; }

  absl::Status CopyIn(DeviceMemory dst, const void* src, uint64_t bytes) override;
  absl::Status CopyOut(void* dst, DeviceMemory src, uint64_t bytes) override;
  absl::Status CopyWithin(DeviceMemory dst, DeviceMemory src, uint64_t bytes) override;
  absl::Status Fill(DeviceMemory dst, uint8_t value, uint64_t bytes) override;
  bool models_time() const override { return engine_name_ != "functional"; }
  const std::string& device_name() const override { return name_; }
  StreamWork MakeLaunch(const Executable& exe, std::vector<DeviceMemory> inputs,
                        std::vector<DeviceMemory> outputs, simulator::RunStats* stats) override;
  StreamWork MakeHostKernel(HostKernel kernel, std::vector<DeviceMemory> buffers) override;

  // Device::LoadProgram of a tpu device (tpu_program.cc).
  absl::StatusOr<std::unique_ptr<Executable>> LoadProgram(const isa::Program& program);

 private:
  TpuCore(std::string name, const DeviceOptions& options, std::unique_ptr<simulator::Engine> engine);

  // One launch on the worker thread: checks the buffers against the bindings, copies the inputs into
  // the frame, runs the engine and copies the outputs out. Returns the simulated cycles.
  absl::StatusOr<uint64_t> RunLaunch(const LoadedProgram& loaded, const std::vector<DeviceMemory>& inputs,
                                     const std::vector<DeviceMemory>& outputs, simulator::RunStats* stats);
  // memmove within DRAM; the caller holds state_mu_ and has validated both ranges.
  absl::Status DramMoveLocked(uint64_t dst, uint64_t src, uint64_t bytes);

  const std::string name_;
  const isa::ArchConfig arch_;
  const std::string engine_name_;
  const bool collect_trace_;                   // DeviceOptions::collect_trace
  const decltype(DeviceOptions::progress) progress_;  // DeviceOptions::progress (may be empty)
  const std::string vcd_path_;                 // DeviceOptions::vcd_path ("" = no waveforms)
  const simulator::VcdWindow vcd_window_;      // DeviceOptions::vcd_window
  AddressSpace space_;
  std::mutex state_mu_;                        // serializes every DRAM access and every run on this device
  simulator::DeviceState state_;               // guarded by state_mu_
  std::unique_ptr<simulator::Engine> engine_;  // guarded by state_mu_
  uint64_t launches_ = 0;                      // launches handed to the engine; guarded by state_mu_
};

}  // namespace tpusim::driver::detail
