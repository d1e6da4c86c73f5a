// Compile(): graph -> isa::Program. Plans the DRAM frame (bindings, constants, intermediates, scratch),
// checks it fits the device, then emits each node's instructions through its lowering (lowering.h)
// and fills the program container with the code, segments, bindings and op attribution.
//
// Frame layout (byte offsets from the launch's frame base, each region 64-byte aligned, bump-allocated
// in this order): graph inputs, graph outputs, then per node in order the constants and scratch its
// lowering requests and its outputs (aliases share their input's region; values a fusion elides get
// none). Nothing is reused yet.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_context.h"
#include "codegen_vector.h"
#include "internal.h"
#include "lower_conv.h"
#include "lower_int8.h"
#include "lowering.h"
#include "rnn_internal.h"
#include "schedule_program.h"
#include "batchnorm_training.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace codegen {

const Lowering* FindLowering(std::string_view op_type) {
  static const auto* table = new std::map<std::string, Lowering, std::less<>>{
      {"MatMul", {PlanGemmNode, EmitMatMulNode, false}},
      {"Gemm", {PlanGemmNode, EmitGemmNode, false}},
      {"Add", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Sub", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Mul", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Div", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Relu", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Sigmoid", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Tanh", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Exp", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Log", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Sqrt", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Reciprocal", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Abs", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Neg", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"Erf", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"LeakyRelu", {PlanConstantInputs, EmitElementwiseNode, false}},
      {"QuantizeLinear", {PlanQuantizeNode, EmitQuantizeNode, false}},    // lower_quantize.cc
      {"DequantizeLinear", {PlanQuantizeNode, EmitQuantizeNode, false}},
      {"Clip", {PlanConstantInputs, EmitClipNode, false}},
      {"Pow", {PlanPowNode, EmitPowNode, false}},
      {"Softmax", {PlanConstantInputs, EmitSoftmaxNode, false}},
      {"Transpose", {PlanConstantInputs, EmitTransposeNode, false}},
      {"Concat", {PlanConstantInputs, EmitConcatNode, false}},
      {"Slice", {PlanConstantInputs, EmitSliceNode, false}},
      {"Expand", {PlanConstantInputs, EmitExpandNode, false}},
      {"ReduceSum", {PlanConstantInputs, EmitReduceNode, false}},
      {"ReduceMean", {PlanConstantInputs, EmitReduceNode, false}},
      {"ReduceMax", {PlanConstantInputs, EmitReduceNode, false}},
      {"Reshape", {PlanNothing, EmitAliasNode, true}},
      {"Flatten", {PlanNothing, EmitAliasNode, true}},
      {"Identity", {PlanNothing, EmitAliasNode, true}},
      {"Squeeze", {PlanNothing, EmitAliasNode, true}},
      {"Unsqueeze", {PlanNothing, EmitAliasNode, true}},
      {"MaxPool", {PlanPoolNode, EmitPoolNode, false}},
      {"AveragePool", {PlanPoolNode, EmitPoolNode, false}},
      {"GlobalAveragePool", {PlanPoolNode, EmitPoolNode, false}},
      {"GlobalMaxPool", {PlanPoolNode, EmitPoolNode, false}},
      {"Split", {PlanConstantInputs, EmitSplitNode, false}},
      {"Gather", {PlanConstantInputs, EmitGatherNode, false}},
      {"PRelu", {PlanConstantInputs, EmitPReluNode, false}},
      {"LayerNormalization", {PlanConstantInputs, EmitLayerNormNode, false}},
      {"Conv", {PlanConvNode, EmitConvNode, false}},
      {"BatchNormalization", {PlanDataInput, EmitBatchNormNode, false}},
      {"Pad", {PlanConstantInputs, EmitPadAnyModeNode, false}},
      {"ConstantOfShape", {PlanNothing, EmitConstantOfShapeNode, false}},
  };
  auto it = table->find(op_type);
  return it == table->end() ? nullptr : &it->second;
}

absl::Status PlanConstantInputs(const Node& node, CodegenContext& ctx) {
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const std::string& in = node.inputs[i];
    if (in.empty() || !ctx.ValueOf(in).constant.has_value() || detail::ReadAtCompileTime(node, i)) continue;
    TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, in));
    TPUSIM_RETURN_IF_ERROR(ctx.F32Region(in).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<UnaryOperands> DataInOut(const Node& node, CodegenContext& ctx) {
  if (node.inputs.empty() || node.inputs[0].empty() || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs a data input and an output"));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[0]));
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.outputs[0]));
  UnaryOperands io;
  TPUSIM_ASSIGN_OR_RETURN(io.in, ctx.F32Region(node.inputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(io.out, ctx.F32Region(node.outputs[0]));
  io.in_shape = &ctx.ShapeOf(node.inputs[0]);
  io.out_shape = &ctx.ShapeOf(node.outputs[0]);
  return io;
}

namespace {

bool IsConstant(const Graph& g, const std::string& name) {
  const Value* v = g.FindValue(name);
  return v != nullptr && v->constant.has_value();
}

// True if some value a node or the graph touches has no shape yet.
bool NeedsShapeInference(const Graph& g) {
  auto unknown = [&](const std::string& name) {
    const Value* v = g.FindValue(name);
    return !name.empty() && (v == nullptr || KnownShape(*v) == nullptr);
  };
  for (const Node& node : g.nodes) {
    for (const std::string& n : node.inputs) if (unknown(n)) return true;
    for (const std::string& n : node.outputs) if (unknown(n)) return true;
  }
  for (const std::string& n : g.outputs) if (unknown(n)) return true;
  return false;
}

// Every value codegen touches has a shape with non-negative dims, and no single tensor is larger than
// the device DRAM (which also keeps every frame offset computation far from overflow).
absl::Status CheckShapes(const Graph& g, const isa::ArchConfig& arch) {
  auto check = [&](const std::string& name) -> absl::Status {
    if (name.empty()) return absl::OkStatus();
    const Value* v = g.FindValue(name);
    const Shape* shape = v == nullptr ? nullptr : KnownShape(*v);
    if (shape == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("value '", name, "' has no shape after shape inference"));
    }
    long double bytes = kF32Bytes;
    for (int64_t d : *shape) {
      if (d < 0) {
        return absl::InvalidArgumentError(absl::StrCat("value '", name, "' has shape ", ShapeToString(*shape),
                                                       " with a negative dimension"));
      }
      bytes *= static_cast<long double>(d);
    }
    if (bytes > static_cast<long double>(arch.dram_bytes())) {
      return absl::ResourceExhaustedError(absl::StrCat("value '", name, "' ", ShapeToString(*shape), " needs ",
                                                       static_cast<double>(bytes), " bytes of device DRAM, arch ",
                                                       arch.name(), " has ", arch.dram_bytes()));
    }
    return absl::OkStatus();
  };
  for (const std::string& n : g.inputs) TPUSIM_RETURN_IF_ERROR(check(n));
  for (const Node& node : g.nodes) {
    for (const std::string& n : node.inputs) TPUSIM_RETURN_IF_ERROR(check(n));
    for (const std::string& n : node.outputs) TPUSIM_RETURN_IF_ERROR(check(n));
  }
  for (const std::string& n : g.outputs) TPUSIM_RETURN_IF_ERROR(check(n));
  return absl::OkStatus();
}

// int32 values (only ever moved as 32-bit words: tpu_support.cc) bind as INT32; int8 and uint8 values
// (QuantizeLinear / DequantizeLinear's, lower_quantize.cc; uint8 as u - 128, which the runtime converts)
// bind as INT8, one byte per element; everything else FLOAT32.
isa::Binding MakeBinding(const std::string& name, uint64_t offset, const Shape& shape,
                         DataType dtype = DataType::kFloat32) {
  isa::Binding b;
  b.set_name(name);
  b.set_dram_offset(offset);
  for (int64_t d : shape) b.add_shape(d);
  b.set_dtype(dtype == DataType::kInt32                                 ? isa::INT32
              : dtype == DataType::kInt8 || dtype == DataType::kUint8 ? isa::INT8
                                                                      : isa::FLOAT32);
  return b;
}

bool IsByteValue(DataType t) { return t == DataType::kInt8 || t == DataType::kUint8; }
// Frame bytes per element of a bound value: 1 for int8 / uint8, 4 for fp32 and int32 words.
uint64_t ElementBytes(DataType t) { return IsByteValue(t) ? 1 : codegen::kF32Bytes; }

// Graph inputs and outputs (the program's bindings), in graph order. An output that is a graph input
// or a constant gets its own region and a copy (returned as output index -> source value).
absl::StatusOr<std::map<size_t, std::string>> PlanBindings(const Graph& g, CodegenContext& ctx, isa::Program& prog) {
  for (const std::string& name : g.inputs) {
    const Value& v = ctx.ValueOf(name);
    if (!v.shape.has_value()) return absl::InvalidArgumentError(absl::StrCat("graph input '", name, "' has no shape"));
    if (v.dtype != DataType::kFloat32 && v.dtype != DataType::kInt32 && !IsByteValue(v.dtype)) {
      return absl::UnimplementedError(absl::StrCat("graph input '", name, "' is ", std::string(DataTypeName(v.dtype)),
                                                   "; the TPU program takes float32, int32, int8 and uint8 only"));
    }
    uint64_t offset = ctx.Allocate(static_cast<uint64_t>(NumElements(*v.shape)) * ElementBytes(v.dtype));
    ctx.Bind(name, offset);
    *prog.add_inputs() = MakeBinding(name, offset, *v.shape, v.dtype);
  }
  std::map<size_t, std::string> copies;
  std::map<std::string, uint64_t> produced;  // outputs listed twice share one region
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const std::string& name = g.outputs[i];
    const Value& v = ctx.ValueOf(name);
    if (v.dtype != DataType::kFloat32 && v.dtype != DataType::kInt32 && !IsByteValue(v.dtype)) {
      return absl::UnimplementedError(absl::StrCat("graph output '", name, "' is ", std::string(DataTypeName(v.dtype)),
                                                   "; the TPU program produces float32, int32, int8 and uint8 only"));
    }
    const Shape& shape = ctx.ShapeOf(name);
    const uint64_t bytes = static_cast<uint64_t>(NumElements(shape)) * ElementBytes(v.dtype);
    uint64_t offset;
    if (auto it = produced.find(name); it != produced.end()) {
      offset = it->second;
    } else if (IsByteValue(v.dtype) && (ctx.IsBound(name) || v.constant.has_value())) {
      return absl::UnimplementedError(absl::StrCat("graph output '", name, "' is an ", std::string(DataTypeName(v.dtype)),
                                                   " input or constant; the TPU program copies float32 only"));
    } else if (ctx.IsBound(name) || v.constant.has_value()) {  // a graph input or a constant: copied
      TPUSIM_RETURN_IF_ERROR(ctx.F32Region(name).status());
      offset = ctx.Allocate(bytes);
      copies[i] = name;
    } else {
      offset = ctx.Allocate(bytes);
      ctx.Bind(name, offset);
      produced[name] = offset;
    }
    *prog.add_outputs() = MakeBinding(name, offset, shape, v.dtype);
  }
  return copies;
}

// Plan phase over the nodes: picks each node's lowering, runs its plan and assigns its outputs' regions.
absl::StatusOr<std::vector<const Lowering*>> PlanNodes(const Graph& graph, const FusionPlan& fusion,
                                                       CodegenContext& ctx) {
  static const Lowering kNothing{PlanNothing, PlanNothing, false};
  std::vector<const Lowering*> lowerings;
  for (const Node& node : graph.nodes) {
    bool folded = true;  // every output a constant: the frontend folded the node
    for (const std::string& out : node.outputs) folded = folded && (out.empty() || IsConstant(graph, out));
    const bool absorbed = fusion.absorbed_nodes.count(node.name) != 0;  // emitted by its fusion head
    const Lowering* lowering = folded || absorbed ? &kNothing : FindLowering(node.op_type);
    if (!folded && !absorbed && detail::IsIntElementwiseNode(node, graph)) lowering = &IntElementwiseLowering();
    if (lowering == nullptr) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), " has no TPU lowering"));
    }
    lowerings.push_back(lowering);
    TPUSIM_RETURN_IF_ERROR(lowering->plan(node, ctx));
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& out = node.outputs[i];
      if (out.empty() || IsConstant(graph, out) || ctx.IsBound(out) || fusion.elided_values.count(out)) continue;
      // int32 outputs: nodes that only move 32-bit words (tpu_support.cc admits no others).
      if (ctx.ValueOf(out).dtype != DataType::kInt32) TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, out));
      if (lowering->aliases_input && i == 0 && !node.inputs.empty() && !node.inputs[0].empty()) {
        TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[0]));
        TPUSIM_ASSIGN_OR_RETURN(uint64_t region, ctx.F32Region(node.inputs[0]));
        ctx.Bind(out, region);
      } else {
        ctx.Bind(out, ctx.Allocate(static_cast<uint64_t>(NumElements(ctx.ShapeOf(out))) * kF32Bytes));
      }
    }
  }
  return lowerings;
}

}  // namespace
}  // namespace codegen

absl::StatusOr<isa::Program> Compile(const Graph& graph_in, const CompileOptions& options) {
  using namespace codegen;  // NOLINT: the lowering machinery of this file's own layer
  TPUSIM_RETURN_IF_ERROR(isa::ValidateArchConfig(options.arch, "compile options"));
  if (detail::HasInt8ModeNodes(graph_in)) return detail::CompileInt8(graph_in, options);  // lower_int8.cc
  if (!isa::SupportsMatmulType(options.arch, isa::BF16_FP32)) {
    return absl::UnimplementedError(absl::StrCat("arch ", options.arch.name(),
                                                 " has no BF16_FP32 matrix mode; fp32 graphs need it"));
  }
  TPUSIM_RETURN_IF_ERROR(graph_in.Validate());
  if (detail::HasRecurrentNodes(graph_in)) return detail::CompileRecurrent(graph_in, options);  // expand_rnn.cc
  if (detail::HasTrainingBatchNorm(graph_in)) return detail::CompileBatchNormTraining(graph_in, options);
  for (const std::string& name : graph_in.inputs) {
    if (!graph_in.FindValue(name)->shape.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("graph input '", name, "' has no shape"));
    }
  }
  std::optional<Graph> inferred;
  const Graph* graph = &graph_in;
  if (NeedsShapeInference(graph_in)) {
    inferred = graph_in;
    TPUSIM_RETURN_IF_ERROR(InferShapes(*inferred));
    graph = &*inferred;
  }
  TPUSIM_RETURN_IF_ERROR(CheckShapes(*graph, options.arch));
  // BatchNormalization folded into Conv/Gemm weights (lower_conv.h): in place when `inferred` is
  // already this function's own copy, so the constants are copied at most once.
  std::optional<Graph> bn_folded;
  if (inferred.has_value()) {
    detail::FoldBatchNorms(*inferred);
  } else {
    graph = detail::WithBatchNormsFolded(*graph, bn_folded);
  }
  // Softmax needs 4 rows (max, sum, scratch, data); GEMMs check their own minimum (PlanGemmNode).
  const uint64_t min_ub_rows = 4;
  if (isa::UbRows(options.arch, isa::BF16_FP32) < min_ub_rows) {
    return absl::ResourceExhaustedError(absl::StrCat("arch ", options.arch.name(), " has ",
                                                     isa::UbRows(options.arch, isa::BF16_FP32),
                                                     " fp32 UB rows; codegen needs at least ", min_ub_rows));
  }

  isa::Program prog;
  CodegenContext ctx(*graph, options);
  TPUSIM_ASSIGN_OR_RETURN(auto copies, PlanBindings(*graph, ctx, prog));
  FusionPlan fusion = FindFusions(*graph);
  ctx.SetFusions(fusion.heads);

  TPUSIM_ASSIGN_OR_RETURN(std::vector<const Lowering*> lowerings, PlanNodes(*graph, fusion, ctx));
  if (ctx.frame_bytes() > options.arch.dram_bytes()) {
    return absl::ResourceExhaustedError(absl::StrCat("model needs ", ctx.frame_bytes(), " bytes of device DRAM, arch ",
                                                     options.arch.name(), " has ", options.arch.dram_bytes()));
  }
  ctx.FinishPlanning();

  // Emit.
  for (size_t i = 0; i < graph->nodes.size(); ++i) {
    const Node& node = graph->nodes[i];
    prog.add_op_names(node.name);
    ctx.BeginOp(static_cast<uint32_t>(i));
    TPUSIM_RETURN_IF_ERROR(lowerings[i]->emit(node, ctx));
  }
  prog.add_op_names("<program>");  // graph-output copies of inputs/constants, and HALT
  ctx.BeginOp(static_cast<uint32_t>(graph->nodes.size()));
  for (const auto& [index, source] : copies) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t src, ctx.F32Region(source));
    EmitFlat(ctx, std::nullopt, {FlatOperand{src, false}}, prog.outputs(static_cast<int>(index)).dram_offset(),
             static_cast<uint64_t>(NumElements(ctx.ShapeOf(source))));
  }
  ctx.Halt();

  prog.set_isa_version(isa::kIsaVersion);
  *prog.mutable_arch() = options.arch;
  prog.set_precision(std::string(PrecisionName(options.precision)));
  prog.set_frame_bytes(ctx.frame_bytes());
  for (isa::Segment& seg : ctx.segments()) *prog.add_constants() = std::move(seg);
  std::vector<isa::Instruction> insts = ctx.code();
  std::vector<uint32_t> inst_op = ctx.inst_op();
  if (options.schedule == Schedule::kTokens) {
    // Program-level pass (schedule_program.h): weight loads hoisted, tokens placed again.
    RescheduleTokens(insts, inst_op, options.arch.weight_fifo_depth());
  }
  TPUSIM_ASSIGN_OR_RETURN(std::string code, isa::EncodeProgram(insts));
  prog.set_code(std::move(code));
  for (uint32_t op : inst_op) prog.add_inst_op(op);
  return prog;
}

}  // namespace tpusim::compiler
