// The compiler backend's entry points: which ops the TPU supports, shape inference, and compiling a
// (sub)graph whose input shapes are known to an isa::Program for a target ArchConfig.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/arch_config.pb.h"
#include "isa/proto/program.pb.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler {

// Matrix precision for fp32 graphs (XLA's precision levels): kBf16 = 1 bf16 pass, kHigh = 3 passes
// (bf16x2 split), kHighest = 6 passes (bf16x3 split, about fp32 accuracy).
enum class Precision { kBf16, kHigh, kHighest };
absl::StatusOr<Precision> ParsePrecision(std::string_view name);  // "bf16" | "high" | "highest"
std::string_view PrecisionName(Precision p);

// How codegen orders the decoupled load, compute and store queues (docs/timing.md):
//   kTokens: SIGNAL/WAIT dependency tokens only where one queue's instruction touches what another
//            queue's earlier instruction touched (tpusim/compiler_backend/schedule_tokens.h), with
//            double-buffered tiles, so DMA overlaps compute;
//   kSerial: a SYNC (full barrier) at every change of queue: nothing overlaps.
// Both give the same output bits.
enum class Schedule { kTokens, kSerial };
absl::StatusOr<Schedule> ParseSchedule(std::string_view name);  // "tokens" | "serial"
std::string_view ScheduleName(Schedule s);

struct CompileOptions {
  isa::ArchConfig arch;
  Precision precision = Precision::kBf16;
  Schedule schedule = Schedule::kTokens;
};

// The ONNX op types the TPU codegen lowers (the first check of CheckTpuSupport; attributes, data types
// and shapes decide the rest).
const std::set<std::string>& TpuOpTypes();

// OK if the node can run on the TPU given its (known) input shapes and attributes; otherwise
// Unimplemented with the reason ("Softmax: opset-11 axis semantics ..."). Never fails on unknown ops
// with anything but Unimplemented.
absl::Status CheckTpuSupport(const Node& node, const Graph& graph);
// The same, with XLA's compile-time constant inputs: `compile_time_inputs` names graph inputs whose
// value the caller (the runtime) binds as a constant of the (sub)graph it compiles, once the value is
// known (so one program per distinct value). Such a value counts as a constant whose value is not
// known yet: a Reshape whose shape input is one of them is supported.
absl::Status CheckTpuSupport(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs);

// True if the TPU lowering of `node` reads input `index` only at compile time, so a graph input used
// only in such places may be a compile-time input (above): Reshape's and Expand's shape, Squeeze's and
// Unsqueeze's axes, Slice's starts/ends/axes/steps, ReduceSum/ReduceMean/ReduceMax's axes, Clip's
// min/max, Pad's pads/constant_value/axes (opset >= 11), BatchNormalization's scale/B/mean/var.
bool IsCompileTimeOperand(const Node& node, size_t index);

// int8 mode (docs/quantization.md, lower_int8*.cc). True for the ops the TPU runs in the array's
// INT8_INT32 mode (MatMulInteger, QLinearMatMul): a program is either float mode or int8 mode, so the
// runtime puts them in segments of their own, and Compile() emits an int8-mode program (precision
// "int8") for a graph made of them.
bool IsInt8ModeOp(const Node& node);
// The device representation of quantized tensors, defined once: the ISA has no uint8 type, so a uint8
// tensor is held as int8 (u - 128), its zero point shifted by -128 (differences q - zero_point are
// unchanged). ToDeviceInt8 converts uint8 (other dtypes are returned as they are); FromDeviceInt8 turns
// an int8 device tensor back into `want` when that is uint8 (otherwise returns it as it is).
Tensor ToDeviceInt8(const Tensor& t);
Tensor FromDeviceInt8(const Tensor& t, DataType want);

// Folds shape-only subgraphs at compile time (fold_shapes.cc): Shape and Size of values with known
// shapes, and Gather, Slice, Concat, Unsqueeze, Squeeze, Reshape, Flatten, Identity, Cast, Equal, Where,
// ConstantOfShape, Range and integer Neg/Add/Sub/Mul/Div whose inputs are all constants. Folded outputs
// become constants and their nodes leave the graph. Returns how many nodes folded; run shape inference
// again afterwards (and fold again while it returns > 0): values downstream may now have shapes.
absl::StatusOr<int> FoldShapeSubgraphs(Graph& graph);

// Fills Value::shape of every node output from input shapes (every graph input must have a shape).
// Supports the TPU ops; InvalidArgument on shape mismatches naming node and shapes.
absl::Status InferShapes(Graph& graph);

// Compiles the whole graph (every node TPU-supported, every graph input with a shape) to a program.
// Graph inputs and outputs become the program's bindings, in order. ResourceExhausted if a tensor
// cannot fit the device DRAM.
absl::StatusOr<isa::Program> Compile(const Graph& graph, const CompileOptions& options);

}  // namespace tpusim::compiler
