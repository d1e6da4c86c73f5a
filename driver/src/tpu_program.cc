// The tpu backend's programs: LoadProgram (validate, place the frame, write constants) and Launch
// (bind buffers, run the engine, copy results out).
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tpu_core.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/program.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::driver::detail {
namespace {

// FailedPrecondition unless the program's arch has the same on-chip geometry as the device's.
absl::Status CheckArchCompatible(const std::string& device, const isa::ArchConfig& program_arch,
                                 const isa::ArchConfig& device_arch) {
  struct Field {
    const char* name;
    uint64_t program_value;
    uint64_t device_value;
  };
  const Field fields[] = {
      {"array_rows", program_arch.array_rows(), device_arch.array_rows()},
      {"array_cols", program_arch.array_cols(), device_arch.array_cols()},
      {"ub_bytes", program_arch.ub_bytes(), device_arch.ub_bytes()},
      {"accumulator_entries", program_arch.accumulator_entries(), device_arch.accumulator_entries()},
      {"weight_fifo_depth", program_arch.weight_fifo_depth(), device_arch.weight_fifo_depth()},
  };
  for (const Field& f : fields) {
    if (f.program_value != f.device_value) {
      return absl::FailedPreconditionError(
          absl::StrCat(device, ": LoadProgram: the program was compiled for arch '", program_arch.name(),
                       "' with ", f.name, " = ", f.program_value, ", but this device's arch '",
                       device_arch.name(), "' has ", f.name, " = ", f.device_value));
    }
  }
  return absl::OkStatus();
}

// Bytes of a dense tensor binding; InvalidArgument on a negative dimension or overflow.
absl::StatusOr<uint64_t> BindingBytes(const isa::Binding& b, const std::string& kind) {
  uint64_t bytes = isa::TensorTypeBytes(b.dtype());
  for (int64_t d : b.shape()) {
    if (d < 0 || (d > 0 && bytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))) {
      return absl::InvalidArgumentError(absl::StrCat("LoadProgram: ", kind, " '", b.name(),
                                                     "' has an invalid shape [",
                                                     absl::StrJoin(b.shape(), ", "), "]"));
    }
    bytes *= static_cast<uint64_t>(d);
  }
  return bytes;
}

std::string ShapeText(const isa::Binding& b) {
  return absl::StrCat("[", absl::StrJoin(b.shape(), ", "), "] ", isa::TensorType_Name(b.dtype()));
}

// InvalidArgument unless `buffers` match `bindings` in count and byte size.
absl::Status CheckBuffers(const std::string& device, const std::string& kind,
                          const google::protobuf::RepeatedPtrField<isa::Binding>& bindings,
                          const std::vector<uint64_t>& binding_bytes,
                          const std::vector<DeviceMemory>& buffers) {
  if (buffers.size() != static_cast<size_t>(bindings.size())) {
    std::vector<std::string> names;
    for (const isa::Binding& b : bindings) names.push_back(b.name());
    return absl::InvalidArgumentError(absl::StrCat(device, ": Launch: the program has ", bindings.size(), " ",
                                                   kind, "s (", absl::StrJoin(names, ", "), ") but ",
                                                   buffers.size(), " ", kind, " buffers were given"));
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].size != binding_bytes[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(device, ": Launch: ", kind, " '", bindings[i].name(), "' (", kind, " ", i, ") is a ",
                       ShapeText(bindings[i]), " tensor of ", binding_bytes[i],
                       " bytes, but its buffer holds ", buffers[i].size, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

LoadedProgram::~LoadedProgram() {
  if (core != nullptr && frame.size > 0) (void)core->space().Free(frame.address);
}

absl::StatusOr<std::unique_ptr<Executable>> TpuCore::LoadProgram(const isa::Program& program) {
  TPUSIM_RETURN_IF_ERROR(isa::ValidateProgram(program));
  TPUSIM_RETURN_IF_ERROR(CheckArchCompatible(name_, program.arch(), arch_));
  auto loaded = std::make_shared<LoadedProgram>();
  loaded->mode = program.precision() == "int8" ? isa::INT8_INT32 : isa::BF16_FP32;
  if (!isa::SupportsMatmulType(arch_, loaded->mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        name_, ": LoadProgram: precision '", program.precision(), "' needs matmul type ",
        isa::MatmulType_Name(loaded->mode), ", which arch '", arch_.name(), "' does not support"));
  }
  for (const isa::Binding& b : program.inputs()) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t bytes, BindingBytes(b, "input"));
    loaded->input_bytes.push_back(bytes);
  }
  for (const isa::Binding& b : program.outputs()) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t bytes, BindingBytes(b, "output"));
    loaded->output_bytes.push_back(bytes);
  }
  TPUSIM_ASSIGN_OR_RETURN(loaded->code, isa::DecodeCode(program));
  if (engine_name_ == "rtl") {
    // Refused before anything runs: the RTL core implements a subset of the ISA.
    absl::Status supported = rtl::CheckRtlSupport(loaded->code, loaded->mode);
    if (!supported.ok()) {
      return absl::Status(supported.code(),
                          absl::StrCat(name_, ": LoadProgram (rtl engine): ", supported.message()));
    }
  }
  loaded->program = program;

  // A frame of at least one byte, so that every program has a real DRAM placement.
  absl::StatusOr<DeviceMemory> frame = space_.Allocate(std::max<uint64_t>(program.frame_bytes(), 1));
  if (!frame.ok()) {
    return absl::Status(frame.status().code(),
                        absl::StrCat("LoadProgram: cannot place the program's ", program.frame_bytes(),
                                     "-byte frame: ", frame.status().message()));
  }
  loaded->frame = *frame;
  loaded->core = shared_from_this();  // from here on, ~LoadedProgram frees the frame
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    for (const isa::Segment& seg : program.constants()) {
      absl::Status s =
          state_.dram.Write(loaded->frame.address + seg.dram_offset(), seg.data().data(), seg.data().size());
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat(name_, ": LoadProgram: constant segment '", seg.name(),
                                                   "': ", s.message()));
      }
    }
  }
  return std::unique_ptr<Executable>(new TpuExecutable(std::move(loaded)));
}

StreamWork TpuCore::MakeLaunch(const Executable& exe, std::vector<DeviceMemory> inputs,
                               std::vector<DeviceMemory> outputs, simulator::RunStats* stats) {
  const auto* tpu = dynamic_cast<const TpuExecutable*>(&exe);
  if (tpu == nullptr || tpu->loaded()->core.get() != this) {
    return [name = name_](uint64_t&) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": Launch: the executable was not loaded on this device"));
    };
  }
  return [self = shared_from_this(), loaded = tpu->loaded(), inputs = std::move(inputs),
          outputs = std::move(outputs), stats](uint64_t& clock) -> absl::Status {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t cycles, self->RunLaunch(*loaded, inputs, outputs, stats));
    clock += cycles;
    return absl::OkStatus();
  };
}

absl::StatusOr<uint64_t> TpuCore::RunLaunch(const LoadedProgram& loaded,
                                            const std::vector<DeviceMemory>& inputs,
                                            const std::vector<DeviceMemory>& outputs,
                                            simulator::RunStats* stats) {
  const isa::Program& program = loaded.program;
  TPUSIM_RETURN_IF_ERROR(CheckBuffers(name_, "input", program.inputs(), loaded.input_bytes, inputs));
  TPUSIM_RETURN_IF_ERROR(CheckBuffers(name_, "output", program.outputs(), loaded.output_bytes, outputs));
  // Zero-byte bindings (tensors with a 0 dimension) take the null buffer and move nothing.
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (loaded.input_bytes[i] == 0) continue;
    TPUSIM_RETURN_IF_ERROR(space_
                               .Resolve(inputs[i], loaded.input_bytes[i],
                                        absl::StrCat("Launch input '", program.inputs(i).name(), "'"))
                               .status());
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (loaded.output_bytes[i] == 0) continue;
    TPUSIM_RETURN_IF_ERROR(space_
                               .Resolve(outputs[i], loaded.output_bytes[i],
                                        absl::StrCat("Launch output '", program.outputs(i).name(), "'"))
                               .status());
  }

  std::lock_guard<std::mutex> lock(state_mu_);
  const uint64_t frame = loaded.frame.address;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (loaded.input_bytes[i] == 0) continue;
    TPUSIM_RETURN_IF_ERROR(
        DramMoveLocked(frame + program.inputs(i).dram_offset(), inputs[i].address, loaded.input_bytes[i]));
  }
  state_.ResetOnChip(loaded.mode);
  simulator::Launch launch;
  launch.program = &program;
  launch.code = &loaded.code;
  launch.frame_base = frame;
  launch.collect_trace = collect_trace_;
  launch.progress = progress_;
  if (!vcd_path_.empty()) {
    launch.vcd_path = VcdPathForLaunch(vcd_path_, launches_);
    launch.vcd_window = vcd_window_;
  }
  ++launches_;
  absl::StatusOr<simulator::RunStats> run = engine_->Run(launch, state_);
  if (!run.ok()) {
    return absl::Status(run.status().code(), absl::StrCat(name_, ": Launch (", engine_name_,
                                                          " engine): ", run.status().message()));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (loaded.output_bytes[i] == 0) continue;
    TPUSIM_RETURN_IF_ERROR(
        DramMoveLocked(outputs[i].address, frame + program.outputs(i).dram_offset(), loaded.output_bytes[i]));
  }
  if (stats != nullptr) *stats = *run;
  return run->cycles;
}

}  // namespace tpusim::driver::detail
