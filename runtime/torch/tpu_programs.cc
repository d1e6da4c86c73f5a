// RunGraph (tpu_devices.h) and the one-op graphs of tpu_ops.h: compile once per shape and device,
// load, launch on the device's memory.
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "registry_internal.h"
#include "tpu_ops.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::torch_device {
namespace {

using compiler::DataType;
using compiler::Graph;
using compiler::Node;
using compiler::Shape;

constexpr size_t kMaxCachedPrograms = 64;  // per device

// A float's exact bits for cache keys (StrCat(float) keeps only 6 significant digits).
uint32_t FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

absl::StatusOr<Graph> Finish(Graph g, Node node) {
  g.outputs = {"y"};
  g.nodes.push_back(std::move(node));
  TPUSIM_RETURN_IF_ERROR(g.Validate());
  TPUSIM_RETURN_IF_ERROR(compiler::InferShapes(g));
  TPUSIM_RETURN_IF_ERROR(compiler::CheckTpuSupport(g.nodes.back(), g));
  return g;
}

void AddInput(Graph& g, const std::string& name, Shape shape) {
  g.AddValue(name, DataType::kFloat32, std::move(shape));
  g.inputs.push_back(name);
}

}  // namespace

absl::Status RunGraph(int device, const std::string& op, const std::string& key,
                      const std::function<absl::StatusOr<compiler::Graph>()>& build,
                      const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  TPUSIM_ASSIGN_OR_RETURN(detail::OpenDevice * open, detail::GetOpenDevice(device));
  const Settings settings = CurrentSettings();
  // Resolve before taking launch_mu (Resolve takes Registry::mu; lock order in registry_internal.h).
  // Sizes are checked against the bindings by the driver's Launch; resolve each whole allocation tail.
  auto span_of = [&](const void* p) -> absl::StatusOr<driver::DeviceMemory> {
    TPUSIM_ASSIGN_OR_RETURN(DeviceSpan s, Resolve(p, 0));
    if (s.device != device) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": an operand is on privateuseone:", s.device,
                                                     ", not on privateuseone:", device));
    }
    return s.memory;
  };
  std::vector<driver::DeviceMemory> in_mem, out_mem;
  for (const void* p : inputs) {
    TPUSIM_ASSIGN_OR_RETURN(driver::DeviceMemory m, span_of(p));
    in_mem.push_back(m);
  }
  for (const void* p : outputs) {
    TPUSIM_ASSIGN_OR_RETURN(driver::DeviceMemory m, span_of(p));
    out_mem.push_back(m);
  }

  std::lock_guard<std::mutex> lock(open->launch_mu);
  auto it = open->programs.find(key);
  if (it == open->programs.end()) {
    TPUSIM_ASSIGN_OR_RETURN(Graph graph, build());
    compiler::CompileOptions options;
    options.arch = open->arch;
    TPUSIM_ASSIGN_OR_RETURN(options.precision, compiler::ParsePrecision(settings.precision));
    absl::StatusOr<isa::Program> program = compiler::Compile(graph, options);
    if (!program.ok()) {
      return absl::Status(program.status().code(), absl::StrCat(op, " (", key, "): ", program.status().message()));
    }
    // Cached programs hold DRAM frames: drop them all when the cache is full or the device memory is.
    if (open->programs.size() >= kMaxCachedPrograms) open->programs.clear();
    absl::StatusOr<std::unique_ptr<driver::Executable>> exe = open->device->LoadProgram(*program);
    if (exe.status().code() == absl::StatusCode::kResourceExhausted && !open->programs.empty()) {
      open->programs.clear();
      exe = open->device->LoadProgram(*program);
    }
    if (!exe.ok()) return absl::Status(exe.status().code(), absl::StrCat(op, " (", key, "): ", exe.status().message()));
    ++open->programs_compiled;
    it = open->programs.emplace(key, std::move(*exe)).first;
  }
  // The bindings' byte sizes: the driver checks buffer sizes exactly, so trim each span to them.
  const isa::Program& program = it->second->program();
  auto bytes_of = [](const isa::Binding& b) {
    uint64_t n = b.dtype() == isa::INT8 ? 1 : b.dtype() == isa::BFLOAT16 ? 2 : 4;
    for (int64_t d : b.shape()) n *= static_cast<uint64_t>(d);
    return n;
  };
  if (static_cast<int>(in_mem.size()) != program.inputs_size() ||
      static_cast<int>(out_mem.size()) != program.outputs_size()) {
    return absl::InternalError(absl::StrCat(op, ": binding count mismatch"));
  }
  for (int i = 0; i < program.inputs_size(); ++i) in_mem[i].size = bytes_of(program.inputs(i));
  for (int i = 0; i < program.outputs_size(); ++i) out_mem[i].size = bytes_of(program.outputs(i));
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<driver::Stream> stream, open->device->CreateStream());
  stream->Launch(*it->second, in_mem, out_mem, nullptr);
  absl::Status s = stream->Synchronize();
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(op, " (", key, "): ", s.message()));
  ++open->launches;
  ++open->ops[op];
  detail::LogPlacement(op, open->device->name());
  return absl::OkStatus();
}

absl::Status RunGemm(int device, const char* op, const GemmSpec& spec, const void* a, const void* b,
                     const void* c, void* y) {
  const Shape a_shape = spec.trans_a ? Shape{spec.k, spec.m} : Shape{spec.m, spec.k};
  const Shape b_shape = spec.trans_b ? Shape{spec.n, spec.k} : Shape{spec.k, spec.n};
  const bool use_c = spec.has_c && spec.beta != 0.0f;
  const std::string key = absl::StrCat("gemm a", compiler::ShapeToString(a_shape), spec.trans_a, " b",
                                       compiler::ShapeToString(b_shape), spec.trans_b, " c",
                                       use_c ? compiler::ShapeToString(spec.c_shape) : "-", " ", FloatBits(spec.alpha),
                                       " ", FloatBits(spec.beta));
  auto build = [&]() -> absl::StatusOr<Graph> {
    Graph g;
    AddInput(g, "a", a_shape);
    AddInput(g, "b", b_shape);
    Node node;
    node.name = "gemm";
    node.op_type = "Gemm";
    node.inputs = {"a", "b"};
    if (use_c) {
      AddInput(g, "c", spec.c_shape);
      node.inputs.push_back("c");
    }
    node.outputs = {"y"};
    node.attrs = {{"transA", int64_t{spec.trans_a}}, {"transB", int64_t{spec.trans_b}},
                  {"alpha", spec.alpha}, {"beta", spec.beta}};
    g.AddValue("y", DataType::kFloat32);
    return Finish(std::move(g), std::move(node));
  };
  std::vector<const void*> inputs = {a, b};
  if (use_c) inputs.push_back(c);
  return RunGraph(device, op, key, build, inputs, {y});
}

absl::Status RunConv2d(int device, const Conv2dSpec& spec, const void* x, const void* w, const void* bias,
                       void* y) {
  const std::string key = absl::StrCat(
      "conv x", compiler::ShapeToString(spec.x_shape), " w", compiler::ShapeToString(spec.w_shape), " b",
      spec.has_bias, " s", absl::StrJoin(spec.strides, ","), " p", absl::StrJoin(spec.pads, ","), " d",
      absl::StrJoin(spec.dilations, ","), " g", spec.groups);
  auto build = [&]() -> absl::StatusOr<Graph> {
    Graph g;
    AddInput(g, "x", spec.x_shape);
    AddInput(g, "w", spec.w_shape);
    Node node;
    node.name = "conv";
    node.op_type = "Conv";
    node.opset = 11;
    node.inputs = {"x", "w"};
    if (spec.has_bias) {
      AddInput(g, "b", {spec.w_shape[0]});
      node.inputs.push_back("b");
    }
    node.outputs = {"y"};
    node.attrs = {{"strides", spec.strides}, {"pads", spec.pads}, {"dilations", spec.dilations},
                  {"group", spec.groups},
                  {"kernel_shape", std::vector<int64_t>{spec.w_shape[2], spec.w_shape[3]}}};
    g.AddValue("y", DataType::kFloat32);
    return Finish(std::move(g), std::move(node));
  };
  std::vector<const void*> inputs = {x, w};
  if (spec.has_bias) inputs.push_back(bias);
  return RunGraph(device, "aten::convolution", key, build, inputs, {y});
}

}  // namespace tpusim::torch_device
