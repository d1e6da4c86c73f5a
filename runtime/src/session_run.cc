// Session::Run: feed validation, then each step in order: a CPU op as a host kernel on the cpu device,
// a TPU segment as a (cached) program launched on the tpu device.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <list>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cpu_kernels_internal.h"
#include "session_impl.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/program.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Device allocations of one step. On destruction it waits for `stream` (so no queued copy still
// uses the memory) and frees everything.
class ScopedAllocations {
 public:
  ScopedAllocations(driver::Device& device, driver::Stream& stream) : device_(device), stream_(stream) {}
  ~ScopedAllocations() {
    stream_.Synchronize().IgnoreError();
    for (const driver::DeviceMemory& mem : live_) device_.Free(mem).IgnoreError();
  }
  // Zero-byte requests get one byte so every tensor has a distinct, non-null allocation (host kernel
  // buffers).
  absl::StatusOr<driver::DeviceMemory> Allocate(uint64_t bytes) { return AllocateExact(std::max<uint64_t>(bytes, 1)); }
  // Exactly `bytes` (a zero-byte request gets the driver's null memory): program launch buffers must
  // match their bindings' byte sizes.
  absl::StatusOr<driver::DeviceMemory> AllocateExact(uint64_t bytes) {
    TPUSIM_ASSIGN_OR_RETURN(driver::DeviceMemory mem, device_.Allocate(bytes));
    live_.push_back(mem);
    return mem;
  }

 private:
  driver::Device& device_;
  driver::Stream& stream_;
  std::vector<driver::DeviceMemory> live_;
};

absl::StatusOr<compiler::DataType> BindingDataType(const isa::Binding& b) {
  switch (b.dtype()) {
    case isa::FLOAT32: return compiler::DataType::kFloat32;
    case isa::INT32: return compiler::DataType::kInt32;
    case isa::INT8: return compiler::DataType::kInt8;
    default:
      return absl::UnimplementedError(absl::StrCat("program binding '", b.name(), "' has dtype ",
                                                   isa::TensorType_Name(b.dtype()), ", which the runtime cannot hold"));
  }
}

// Adds one launch's statistics to the run's, remapping its per-op counters (and the program's static
// per-op costs) onto report.tpu_op_names.
void MergeStats(const isa::Program& program, const std::vector<OpCost>& op_costs, simulator::RunStats stats,
                RunReport& report) {
  std::vector<uint64_t> op_instructions = std::move(stats.op_instructions);
  std::vector<uint64_t> op_macs = std::move(stats.op_macs);
  std::vector<uint64_t> op_cycles = std::move(stats.op_cycles);
  stats.op_instructions.clear();
  stats.op_macs.clear();
  stats.op_cycles.clear();
  report.tpu.Accumulate(stats);
  auto& names = report.tpu_op_names;
  auto add = [](std::vector<uint64_t>& into, size_t slot, const std::vector<uint64_t>& from, size_t i) {
    if (i < from.size()) into[slot] += from[i];
  };
  for (int i = 0; i < program.op_names_size(); ++i) {
    auto it = std::find(names.begin(), names.end(), program.op_names(i));
    const size_t slot = it - names.begin();
    if (it == names.end()) names.push_back(program.op_names(i));
    for (auto* v : {&report.tpu.op_instructions, &report.tpu.op_macs, &report.tpu.op_cycles,
                    &report.tpu_op_useful_macs, &report.tpu_op_dram_bytes}) {
      v->resize(names.size(), 0);
    }
    const size_t k = static_cast<size_t>(i);
    add(report.tpu.op_instructions, slot, op_instructions, k);
    add(report.tpu.op_macs, slot, op_macs, k);
    add(report.tpu.op_cycles, slot, op_cycles, k);
    if (k < op_costs.size()) {
      report.tpu_op_useful_macs[slot] += op_costs[k].useful_macs;
      report.tpu_op_dram_bytes[slot] += op_costs[k].dram_bytes();
    }
  }
}

}  // namespace

absl::Status SessionImpl::ValidateFeeds(const std::map<std::string, compiler::Tensor>& feeds) const {
  for (const auto& [name, tensor] : feeds) {
    if (std::find(graph_.inputs.begin(), graph_.inputs.end(), name) == graph_.inputs.end()) {
      return absl::InvalidArgumentError(absl::StrCat("feed '", name, "' is not a graph input (inputs: ",
                                                     absl::StrJoin(graph_.inputs, ", "), ")"));
    }
  }
  for (const std::string& name : graph_.inputs) {
    auto it = feeds.find(name);
    if (it == feeds.end()) return absl::InvalidArgumentError(absl::StrCat("graph input '", name, "' is not fed"));
    const compiler::Value* v = graph_.FindValue(name);
    const compiler::Tensor& t = it->second;
    if (v != nullptr && t.dtype() != v->dtype) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "': dtype ", std::string(compiler::DataTypeName(t.dtype())),
                                                     " does not match the graph's ", std::string(compiler::DataTypeName(v->dtype))));
    }
    if (v != nullptr && v->shape.has_value() && t.shape() != *v->shape) {
      return absl::InvalidArgumentError(absl::StrCat("input '", name, "': shape ", compiler::ShapeToString(t.shape()),
                                                     " does not match the graph's ", compiler::ShapeToString(*v->shape)));
    }
  }
  return absl::OkStatus();
}

const compiler::Tensor* SessionImpl::Lookup(const Env& env, const std::string& name) const {
  if (auto it = env.computed.find(name); it != env.computed.end()) return &it->second;
  if (auto it = env.feeds->find(name); it != env.feeds->end()) return &it->second;
  const compiler::Value* v = graph_.FindValue(name);
  return v != nullptr && v->constant.has_value() ? &*v->constant : nullptr;
}

absl::Status SessionImpl::RunCpuNode(const compiler::Node& node, Env& env, RunReport& report) {
  const CpuKernel* kernel = FindCpuKernel(node.op_type);
  if (kernel == nullptr) return absl::InternalError(absl::StrCat("no CPU kernel for placed node '", node.name, "'"));
  std::vector<const compiler::Tensor*> inputs(node.inputs.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty()) continue;
    inputs[i] = Lookup(env, node.inputs[i]);
    if (inputs[i] == nullptr) {
      return absl::InternalError(absl::StrCat("value '", node.inputs[i], "' of node '", node.name, "' was not computed"));
    }
  }
  // Output shapes first (every input value is known here), so output buffers can be allocated.
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> out_info, kernel->infer(node, InfosOf(inputs)));
  if (out_info.size() != node.outputs.size()) {
    return KernelError(node, absl::StrCat("has ", node.outputs.size(), " outputs; the op produces ", out_info.size()));
  }
  TPUSIM_ASSIGN_OR_RETURN(driver::Stream * stream, StreamFor(*cpu_, cpu_stream_));
  ScopedAllocations memory(*cpu_, *stream);
  std::vector<driver::DeviceMemory> buffers;  // present inputs, then outputs
  for (const compiler::Tensor* t : inputs) {
    if (t == nullptr) continue;
    TPUSIM_ASSIGN_OR_RETURN(driver::DeviceMemory mem, memory.Allocate(t->byte_size()));
    stream->MemcpyHostToDevice(mem, t->data(), t->byte_size());
    buffers.push_back(mem);
  }
  std::vector<compiler::Tensor> outputs;
  for (const KernelOutputInfo& info : out_info) {
    outputs.emplace_back(info.dtype, info.shape);
    TPUSIM_ASSIGN_OR_RETURN(driver::DeviceMemory mem, memory.Allocate(outputs.back().byte_size()));
    buffers.push_back(mem);
  }
  // The host kernel sees the device buffers as host pointers: it rebuilds the input tensors, runs the
  // reference kernel and writes the outputs. It runs on the stream thread; everything it references
  // outlives the Synchronize below.
  driver::HostKernel host_kernel = [&node, kernel, &inputs, &out_info](const std::vector<void*>& ptrs) -> absl::Status {
    std::vector<compiler::Tensor> args;
    args.reserve(inputs.size());
    std::vector<const compiler::Tensor*> arg_ptrs(inputs.size(), nullptr);
    size_t p = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i] == nullptr) continue;
      args.emplace_back(inputs[i]->dtype(), inputs[i]->shape());
      std::memcpy(args.back().data(), ptrs[p++], args.back().byte_size());
      arg_ptrs[i] = &args.back();
    }
    TPUSIM_ASSIGN_OR_RETURN(std::vector<compiler::Tensor> results, kernel->compute(node, arg_ptrs));
    for (size_t j = 0; j < out_info.size(); ++j) {
      if (j >= results.size() || results[j].shape() != out_info[j].shape || results[j].dtype() != out_info[j].dtype) {
        return absl::InternalError(absl::StrCat(Where(node), ": output ", j, " differs from the inferred ",
                                                compiler::ShapeToString(out_info[j].shape)));
      }
      std::memcpy(ptrs[p + j], results[j].data(), results[j].byte_size());
    }
    return absl::OkStatus();
  };
  stream->LaunchHostKernel(std::move(host_kernel), buffers);
  const size_t first_output = buffers.size() - outputs.size();
  for (size_t j = 0; j < outputs.size(); ++j) {
    stream->MemcpyDeviceToHost(outputs[j].data(), buffers[first_output + j], outputs[j].byte_size());
  }
  TPUSIM_RETURN_IF_ERROR(stream->Synchronize());
  for (size_t j = 0; j < outputs.size(); ++j) env.computed[node.outputs[j]] = std::move(outputs[j]);
  ++report.cpu_kernels;
  return absl::OkStatus();
}

absl::StatusOr<SessionImpl::Loaded*> SessionImpl::GetProgram(
    int index, const std::vector<const compiler::Tensor*>& inputs,
    const std::vector<const compiler::Tensor*>& compile_time_values, RunReport& report) {
  std::string key = absl::StrCat(index);
  for (const compiler::Tensor* t : inputs) {
    absl::StrAppend(&key, "|", std::string(compiler::DataTypeName(t->dtype())), compiler::ShapeToString(t->shape()));
  }
  // A compile-time value is part of the program, so its bytes are part of the key.
  for (const compiler::Tensor* t : compile_time_values) {
    absl::StrAppend(&key, "|", std::string(compiler::DataTypeName(t->dtype())), compiler::ShapeToString(t->shape()),
                    "=", absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(t->data()),
                                                                  t->byte_size())));
  }
  if (auto it = programs_.find(key); it != programs_.end()) {
    ++report.program_cache_hits;
    return &it->second;
  }
  const auto start = Clock::now();
  const Segment& segment = plan_.segments[index];
  std::vector<std::string> names;
  for (int n : segment.nodes) names.push_back(graph_.nodes[n].name);
  // Segments of int8-mode ops (compiler::IsInt8ModeOp) compile to int8-mode programs: labelled "[int8]".
  const bool int8_mode = compiler::IsInt8ModeOp(graph_.nodes[segment.nodes.front()]);
  const std::string where = absl::StrCat("TPU segment ", index, int8_mode ? " [int8]" : "", " (",
                                         absl::StrJoin(names, ", "), ")");
  absl::StatusOr<compiler::Graph> sub = SegmentSubgraph(graph_, segment, inputs, compile_time_values);
  if (!sub.ok()) return absl::Status(sub.status().code(), absl::StrCat(where, ": ", sub.status().message()));
  compiler::CompileOptions compile_options;
  compile_options.arch = options_.arch;
  compile_options.precision = options_.precision;
  compile_options.schedule = options_.schedule;
  absl::StatusOr<isa::Program> program = compiler::Compile(*sub, compile_options);
  if (!program.ok()) {
    return absl::Status(program.status().code(), absl::StrCat("compiling ", where, ": ", program.status().message()));
  }
  absl::StatusOr<std::unique_ptr<driver::Executable>> exe = tpu_->LoadProgram(*program);
  if (!exe.ok()) {
    return absl::Status(exe.status().code(), absl::StrCat("loading ", where, ": ", exe.status().message()));
  }
  absl::StatusOr<std::vector<isa::Instruction>> code = isa::DecodeCode(*program);
  if (!code.ok()) return absl::Status(code.status().code(), absl::StrCat(where, ": ", code.status().message()));
  Loaded& loaded = programs_[key];
  loaded.program = std::move(*program);
  loaded.executable = std::move(*exe);
  loaded.label = where;
  loaded.op_costs = ProgramOpCosts(loaded.program, *code);
  for (const isa::Instruction& inst : *code) loaded.opcodes.push_back(inst.opcode);
  ++report.programs_compiled;
  report.compile_seconds += SecondsSince(start);
  return &loaded;
}

absl::Status SessionImpl::RunSegment(int index, Env& env, RunReport& report) {
  const Segment& segment = plan_.segments[index];
  if (segment.outputs.empty()) return absl::OkStatus();  // nothing after it uses its values
  std::vector<const compiler::Tensor*> inputs;
  for (const std::string& name : segment.inputs) {
    inputs.push_back(Lookup(env, name));
    if (inputs.back() == nullptr) return absl::InternalError(absl::StrCat("value '", name, "' was not computed"));
  }
  std::vector<const compiler::Tensor*> compile_time_values;
  for (const std::string& name : segment.compile_time_inputs) {
    compile_time_values.push_back(Lookup(env, name));
    if (compile_time_values.back() == nullptr) return absl::InternalError(absl::StrCat("input '", name, "' was not fed"));
  }
  TPUSIM_ASSIGN_OR_RETURN(Loaded * loaded, GetProgram(index, inputs, compile_time_values, report));
  const isa::Program& program = loaded->program;
  TPUSIM_ASSIGN_OR_RETURN(driver::Stream * stream, StreamFor(*tpu_, tpu_stream_));
  std::list<compiler::Tensor> device_repr;  // uint8 inputs as int8 (outlives `memory`'s final sync)
  ScopedAllocations memory(*tpu_, *stream);
  std::vector<driver::DeviceMemory> in_mems, out_mems;
  for (const isa::Binding& b : program.inputs()) {
    auto it = std::find(segment.inputs.begin(), segment.inputs.end(), b.name());
    if (it == segment.inputs.end()) {
      return absl::InternalError(absl::StrCat("program input '", b.name(), "' is not an input of TPU segment ", index));
    }
    const compiler::Tensor* t = inputs[it - segment.inputs.begin()];
    if (b.dtype() == isa::INT8 && t->dtype() == compiler::DataType::kUint8) {  // int8 mode: docs/quantization.md
      t = &device_repr.emplace_back(compiler::ToDeviceInt8(*t));
    }
    TPUSIM_ASSIGN_OR_RETURN(compiler::DataType dtype, BindingDataType(b));
    if (dtype != t->dtype() || compiler::Shape(b.shape().begin(), b.shape().end()) != t->shape()) {
      return absl::InternalError(absl::StrCat("program input '", b.name(), "' is ", isa::TensorType_Name(b.dtype()),
                                              compiler::ShapeToString({b.shape().begin(), b.shape().end()}),
                                              "; the value is ", std::string(compiler::DataTypeName(t->dtype())),
                                              compiler::ShapeToString(t->shape())));
    }
    TPUSIM_ASSIGN_OR_RETURN(driver::DeviceMemory mem, memory.AllocateExact(t->byte_size()));
    stream->MemcpyHostToDevice(mem, t->data(), t->byte_size());
    in_mems.push_back(mem);
  }
  std::vector<compiler::Tensor> outputs;
  for (const isa::Binding& b : program.outputs()) {
    TPUSIM_ASSIGN_OR_RETURN(compiler::DataType dtype, BindingDataType(b));
    outputs.emplace_back(dtype, compiler::Shape(b.shape().begin(), b.shape().end()));
    TPUSIM_ASSIGN_OR_RETURN(driver::DeviceMemory mem, memory.AllocateExact(outputs.back().byte_size()));
    out_mems.push_back(mem);
  }
  simulator::RunStats stats;
  const auto launch_start = Clock::now();
  launch_index_.store(report.tpu_launches, std::memory_order_relaxed);
  stream->Launch(*loaded->executable, in_mems, out_mems, &stats);
  for (size_t j = 0; j < outputs.size(); ++j) {
    stream->MemcpyDeviceToHost(outputs[j].data(), out_mems[j], outputs[j].byte_size());
  }
  absl::Status status = stream->Synchronize();
  if (!status.ok()) return absl::Status(status.code(), absl::StrCat("TPU segment ", index, ": ", status.message()));
  report.tpu_seconds += SecondsSince(launch_start);
  for (int j = 0; j < program.outputs_size(); ++j) {
    const compiler::Value* v = graph_.FindValue(program.outputs(j).name());  // uint8 values: back from int8
    env.computed[program.outputs(j).name()] =
        v != nullptr ? compiler::FromDeviceInt8(outputs[j], v->dtype) : std::move(outputs[j]);
  }
  LaunchRecord record;
  record.label = loaded->label;
  record.cycles = stats.cycles;
  record.op_names.assign(program.op_names().begin(), program.op_names().end());
  if (options_.collect_trace) {
    record.inst_op.assign(program.inst_op().begin(), program.inst_op().end());
    record.opcodes = loaded->opcodes;
    record.trace = std::move(stats.trace);
  }
  stats.trace.clear();
  report.launches.push_back(std::move(record));
  MergeStats(program, loaded->op_costs, std::move(stats), report);
  ++report.tpu_launches;
  ++report.tpu_segments;
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, compiler::Tensor>> SessionImpl::Run(
    const std::map<std::string, compiler::Tensor>& feeds, RunReport* report) {
  std::lock_guard<std::mutex> lock(run_mu_);
  const auto start = Clock::now();
  RunReport local;
  RunReport& rep = report != nullptr ? *report : local;
  rep = RunReport{};
  rep.tpu.engine = options_.device == "tpu" ? options_.engine : "";
  TPUSIM_RETURN_IF_ERROR(ValidateFeeds(feeds));
  Env env;
  env.feeds = &feeds;
  for (size_t s = 0; s < plan_.steps.size(); ++s) {
    const Step& step = plan_.steps[s];
    if (step.node >= 0) {
      TPUSIM_RETURN_IF_ERROR(RunCpuNode(graph_.nodes[step.node], env, rep));
    } else {
      TPUSIM_RETURN_IF_ERROR(RunSegment(step.segment, env, rep));
    }
    for (const std::string& name : plan_.release_after[s]) env.computed.erase(name);
  }
  std::map<std::string, compiler::Tensor> results;
  for (const std::string& name : graph_.outputs) {
    const compiler::Tensor* t = Lookup(env, name);
    if (t == nullptr) return absl::InternalError(absl::StrCat("graph output '", name, "' was not computed"));
    results[name] = *t;
  }
  rep.wall_seconds = SecondsSince(start);
  return results;
}

}  // namespace tpusim::runtime::detail
