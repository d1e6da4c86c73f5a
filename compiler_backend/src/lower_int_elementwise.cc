// Integer elementwise ops in float mode (docs/quantization.md "Conversions on the TPU"): uint8 Add,
// Sub, Mul, Div (numpy semantics: wrap mod 256; Div truncates) with numpy broadcasting, and int8 /
// uint8 Clip (int8 / uint8 MaxPool: lower_int_pool.cc, dispatched from here). Byte tensors live on
// the device as int8 (uint8 u as u - 128, ToDeviceInt8); an i8 LOAD
// sign-extends each byte into an int32 word, cvt_i2f makes it an exact fp32 value, the arithmetic is
// fp32 on exact integers, cvt_f2i (round half to even) turns the result back into a word and the i8
// STORE narrows it (saturating, never reached here: results are in [-128, 127] before the STORE).
//
//   Add / Sub / Mul: a = cvt_i2f(a') + 128 and b likewise (exact u in [0, 255]); m = a op b is an exact
//       integer in [-255, 65025] (|m| < 2^24). Wrap: r = m - 256 * floor(m / 256) with
//       floor(m / 256) = rne((m - 127.5) / 256): m - 127.5 is exact (18 significant bits at most) and
//       the scaling by 1/256 is exact (a power of two, no underflow); the quotient is (m - 127.5) / 256
//       = j + (k - 127.5) / 256 with m = 256 j + k, k in [0, 255], so its distance to j is at most
//       127.5 / 256 < 1/2 and it is never a tie: rne gives exactly j = floor(m / 256). Then
//       r = m + (-256 j) is exact, r in [0, 255]; the device value r - 128 is exact; cvt_f2i is exact.
//   Div (b > 0): x = fl(a / b) (IEEE division, |a / b| <= 255 so |x - a / b| <= 2^-17). q = floor(a / b)
//       = trunc (both >= 0). If b divides a, x = q exactly; otherwise a / b = q + f with
//       f in [1/b, 1 - 1/b] subset [1/255, 254/255]. y = fl(x - 128.498046875) (the constant is
//       128 + 1/2 - 1/512, exact) errs by at most another 2^-17, so y = (q - 128) + g with
//       g in [-0.49805 - 2^-16, 0.49805 + 2^-16] subset (-1/2, 1/2): rne(y) = q - 128, the device value.
//       b = 0 is an error on the CPU (runtime's Div kernel); the TPU cannot fail, and gives
//       a / 0 = +inf -> saturated 255 for a > 0, and 0 / 0 = NaN -> cvt_f2i 0 -> 128.
//   Clip: clamp(u, lo, hi) - 128 = clamp(u - 128, lo - 128, hi - 128), so the device value is clamped
//       with shifted bounds (exact small integers): cvt_i2f -> max_imm -> min_imm -> cvt_f2i. int8 uses
//       no shift. max then min as the CPU kernel (lo > hi gives hi).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_vector.h"
#include "internal.h"
#include "lower_int_pool.h"
#include "lowering.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

bool IsByte(DataType t) { return t == DataType::kInt8 || t == DataType::kUint8; }
bool IsArith(const std::string& op) { return op == "Add" || op == "Sub" || op == "Mul" || op == "Div"; }

absl::Status No(const Node& node, const std::string& why) {
  return absl::UnimplementedError(absl::StrCat(node.op_type, " ", why));
}

// The device offset of a byte type: device = value - offset.
float DeviceShift(DataType t) { return t == DataType::kUint8 ? 128.0f : 0.0f; }

}  // namespace

namespace detail {

bool IsIntElementwiseNode(const Node& node, const Graph& graph) {
  if (!IsArith(node.op_type) && node.op_type != "Clip" && node.op_type != "MaxPool") return false;
  if (node.inputs.empty() || node.inputs[0].empty()) return false;
  const Value* x = graph.FindValue(node.inputs[0]);
  return x != nullptr && IsByte(x->dtype);
}

absl::Status CheckIntElementwiseSupport(const Node& node, const Graph& graph,
                                        const std::set<std::string>& compile_time_inputs) {
  if (node.outputs.size() != 1 || node.outputs[0].empty()) return No(node, "needs one output");
  const Value* x = graph.FindValue(node.inputs[0]);
  const Value* y = graph.FindValue(node.outputs[0]);
  if (x == nullptr || y == nullptr) return No(node, "refers to an unknown value");
  if (node.op_type == "MaxPool") return CheckIntMaxPoolSupport(node, graph);  // lower_int_pool.cc
  const std::string type(DataTypeName(x->dtype));
  if (y->dtype != x->dtype) return No(node, absl::StrCat("with a ", type, " input and another output type"));
  if (!x->shape.has_value()) return No(node, "on a tensor of unknown shape is not supported on the TPU");
  if (NumElements(*x->shape) > (int64_t{1} << 31)) return No(node, "on more than 2^31 elements is not supported on the TPU");
  if (IsArith(node.op_type)) {
    if (x->dtype != DataType::kUint8) return No(node, absl::StrCat("on ", type, " tensors is not supported on the TPU (uint8 only)"));
    if (node.opset < 7) return No(node, "on uint8 before opset 7 is not supported on the TPU");
    if (node.inputs.size() != 2 || node.inputs[1].empty()) return No(node, "needs two inputs");
    const Value* b = graph.FindValue(node.inputs[1]);
    if (b == nullptr || b->dtype != DataType::kUint8) return No(node, "with operands of different types");
    const Shape* bs = b->shape.has_value() ? &*b->shape : (b->constant.has_value() ? &b->constant->shape() : nullptr);
    if (bs == nullptr) return No(node, "on a tensor of unknown shape is not supported on the TPU");
    if (NumElements(*bs) > (int64_t{1} << 31)) return No(node, "on more than 2^31 elements is not supported on the TPU");
    return absl::OkStatus();
  }
  if (node.opset < 12) return No(node, absl::StrCat("on ", type, " before opset 12 is not supported on the TPU"));
  for (size_t i = 1; i < node.inputs.size() && i <= 2; ++i) {
    if (node.inputs[i].empty()) continue;
    const Value* v = graph.FindValue(node.inputs[i]);
    if (v == nullptr) return No(node, "refers to an unknown value");
    const bool known = v->constant.has_value() || compile_time_inputs.count(node.inputs[i]) != 0;
    if (!known) return No(node, "with a bound computed at run time is not supported on the TPU");
    if (v->dtype != x->dtype) return No(node, "with a bound of another type than the input");
  }
  if (node.inputs.size() > 3) return No(node, "has more than 3 inputs");
  return absl::OkStatus();
}

}  // namespace detail

namespace codegen {
namespace {


// UB chunk registers of one block and a step over them: dst = op(a, b, imm).
enum Reg { kA = 0, kB = 1, kT = 2 };
struct IntStep {
  isa::VectorOp op;
  Reg dst, a, b;
  float imm = 0.0f;
};
IntStep On(isa::VectorOp op, Reg r, float imm = 0.0f) { return IntStep{op, r, r, r, imm}; }

// One 2-D i8 block: out(r, l) = steps(in[k](r, l)) for r < rows, l < lanes; views in elements (bytes).
struct ByteBlock {
  std::vector<DramView> in;
  DramView out;
  uint64_t rows = 0, lanes = 0;
};

void EmitByteBlock(CodegenContext& ctx, const ByteBlock& blk, const std::vector<IntStep>& steps) {
  if (blk.rows == 0 || blk.lanes == 0) return;
  const uint64_t slots = ctx.overlapped() ? 2 : 1;
  UbAllocator ub = ctx.NewUb();
  const uint64_t chunk = std::min({ub.free() / (slots * 3), kMaxInstRows, blk.rows});
  TPUSIM_CHECK(chunk >= 1, "EmitByteBlock: UB too small");
  std::vector<std::vector<uint64_t>> regs(slots);
  for (uint64_t s = 0; s < slots; ++s) {
    for (int r = 0; r < 3; ++r) regs[s].push_back(ub.Take(chunk));
  }
  for (uint64_t l0 = 0; l0 < blk.lanes; l0 += ctx.lanes()) {
    const uint64_t nl = std::min<uint64_t>(ctx.lanes(), blk.lanes - l0);
    for (uint64_t r0 = 0; r0 < blk.rows; r0 += chunk) {
      const uint64_t nr = std::min(chunk, blk.rows - r0);
      const std::vector<uint64_t>& reg = regs[ctx.stream_phase()++ % slots];
      for (size_t k = 0; k < blk.in.size(); ++k) ctx.Load(isa::DType::I8, blk.in[k].Offset(r0, l0, 1), reg[k], nr, nl);
      for (const IntStep& s : steps) ctx.Vector(s.op, reg[s.dst], reg[s.a], reg[s.b], nr, false, s.imm);
      ctx.Store(isa::DType::I8, blk.out.Offset(r0, l0, 1), reg[kA], nr, nl);
    }
  }
}


// Streams the broadcast problem out = steps(in...) over the coalesced dims: one flat dim as full UB
// rows plus a partial row; otherwise the last two dims as a strided block per index of the outer dims.
void EmitBroadcast(CodegenContext& ctx, const std::vector<BroadcastDim>& dims, const std::vector<uint64_t>& in,
                   uint64_t out, const std::vector<IntStep>& steps) {
  const uint64_t L = ctx.lanes();
  if (dims.size() == 1) {
    const BroadcastDim& d = dims[0];
    auto block = [&](uint64_t first, uint64_t rows, uint64_t lanes) {
      ByteBlock b;
      for (size_t k = 0; k < in.size(); ++k) {
        b.in.push_back({in[k] + first * d.in_stride[k], L * d.in_stride[k], d.in_stride[k]});
      }
      b.out = {out + first, L, 1};
      b.rows = rows;
      b.lanes = lanes;
      EmitByteBlock(ctx, b, steps);
    };
    if (d.size >= L) block(0, d.size / L, L);
    if (d.size % L != 0) block(d.size / L * L, 1, d.size % L);
    return;
  }
  const size_t outer_rank = dims.size() - 2;
  const BroadcastDim& rows = dims[outer_rank];
  const BroadcastDim& last = dims[outer_rank + 1];
  uint64_t outer_count = 1;
  for (size_t d = 0; d < outer_rank; ++d) outer_count *= dims[d].size;
  std::vector<uint64_t> idx(outer_rank, 0);
  for (uint64_t it = 0; it < outer_count; ++it) {
    ByteBlock b;
    uint64_t out_off = 0;
    for (size_t d = 0; d < outer_rank; ++d) out_off += idx[d] * dims[d].out_stride;
    for (size_t k = 0; k < in.size(); ++k) {
      uint64_t off = 0;
      for (size_t d = 0; d < outer_rank; ++d) off += idx[d] * dims[d].in_stride[k];
      b.in.push_back({in[k] + off, rows.in_stride[k], last.in_stride[k]});
    }
    b.out = {out + out_off, rows.out_stride, last.out_stride};
    b.rows = rows.size;
    b.lanes = last.size;
    EmitByteBlock(ctx, b, steps);
    for (size_t d = outer_rank; d-- > 0;) {
      if (++idx[d] < dims[d].size) break;
      idx[d] = 0;
    }
  }
}

// The steps of a uint8 binary op (the file comment's sequences).
std::vector<IntStep> ArithSteps(const std::string& op_type) {
  using isa::VectorOp;
  std::vector<IntStep> s = {On(VectorOp::CvtI2f, kA), On(VectorOp::AddImm, kA, 128.0f), On(VectorOp::CvtI2f, kB),
                            On(VectorOp::AddImm, kB, 128.0f)};
  if (op_type == "Div") {
    s.push_back({VectorOp::Div, kA, kA, kB});
    s.push_back(On(VectorOp::AddImm, kA, -128.498046875f));
    s.push_back(On(VectorOp::CvtF2i, kA));
    return s;
  }
  const VectorOp op = op_type == "Add" ? VectorOp::Add : op_type == "Sub" ? VectorOp::Sub : VectorOp::Mul;
  s.push_back({op, kA, kA, kB});
  s.push_back({VectorOp::AddImm, kT, kA, kA, -127.5f});
  s.push_back(On(VectorOp::MulImm, kT, 1.0f / 256.0f));
  s.push_back(On(VectorOp::CvtF2i, kT));
  s.push_back(On(VectorOp::CvtI2f, kT));
  s.push_back(On(VectorOp::MulImm, kT, -256.0f));
  s.push_back({VectorOp::Add, kA, kA, kT});
  s.push_back(On(VectorOp::AddImm, kA, -128.0f));
  s.push_back(On(VectorOp::CvtF2i, kA));
  return s;
}

// Clip bound `index` (1 = min, 2 = max) as a device value, or nullopt when absent.
absl::StatusOr<std::optional<float>> DeviceBound(const Node& node, size_t index, CodegenContext& ctx) {
  if (index >= node.inputs.size() || node.inputs[index].empty()) return std::optional<float>();
  const Value& v = ctx.ValueOf(node.inputs[index]);
  if (!v.constant.has_value() || v.constant->num_elements() != 1) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": bound '", node.inputs[index], "' is not a constant scalar"));
  }
  const Tensor& t = *v.constant;
  const float value = t.dtype() == DataType::kUint8 ? static_cast<float>(t.as<uint8_t>()[0])
                                                    : static_cast<float>(t.as<int8_t>()[0]);
  return std::optional<float>(value - DeviceShift(t.dtype()));
}

absl::Status PlanIntElementwise(const Node& node, CodegenContext& ctx) {
  if (node.op_type == "MaxPool") return PlanIntMaxPool(node, ctx);  // lower_int_pool.cc
  const size_t data_inputs = node.op_type == "Clip" ? 1 : 2;
  for (size_t i = 0; i < data_inputs && i < node.inputs.size(); ++i) {
    TPUSIM_RETURN_IF_ERROR(IntValueRegion(node.inputs[i], ctx).status());
  }
  const std::string& out = node.outputs[0];
  if (!ctx.IsBound(out)) ctx.Bind(out, ctx.Allocate(static_cast<uint64_t>(NumElements(ctx.ShapeOf(out)))));
  return absl::OkStatus();
}

absl::Status EmitIntElementwise(const Node& node, CodegenContext& ctx) {
  if (node.op_type == "MaxPool") return EmitIntMaxPool(node, ctx);
  const std::string& y = node.outputs[0];
  TPUSIM_ASSIGN_OR_RETURN(uint64_t out, ctx.F32Region(y));
  const Shape& out_shape = ctx.ShapeOf(y);
  if (NumElements(out_shape) == 0) return absl::OkStatus();
  if (node.op_type == "Clip") {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t in, ctx.F32Region(node.inputs[0]));
    TPUSIM_ASSIGN_OR_RETURN(std::optional<float> lo, DeviceBound(node, 1, ctx));
    TPUSIM_ASSIGN_OR_RETURN(std::optional<float> hi, DeviceBound(node, 2, ctx));
    std::vector<IntStep> steps = {On(isa::VectorOp::CvtI2f, kA)};
    if (lo.has_value()) steps.push_back(On(isa::VectorOp::MaxImm, kA, *lo));
    if (hi.has_value()) steps.push_back(On(isa::VectorOp::MinImm, kA, *hi));
    steps.push_back(On(isa::VectorOp::CvtF2i, kA));
    const BroadcastDim flat{static_cast<uint64_t>(NumElements(out_shape)), 1, {1}};
    EmitBroadcast(ctx, {flat}, {in}, out, steps);
    return absl::OkStatus();
  }
  std::vector<Shape> shapes;
  std::vector<uint64_t> in;
  for (size_t i = 0; i < 2; ++i) {
    shapes.push_back(ctx.ShapeOf(node.inputs[i]));
    TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.F32Region(node.inputs[i]));
    in.push_back(addr);
  }
  TPUSIM_ASSIGN_OR_RETURN(std::vector<BroadcastDim> dims, CoalesceBroadcast(node, out_shape, shapes));
  EmitBroadcast(ctx, dims, in, out, ArithSteps(node.op_type));
  return absl::OkStatus();
}

}  // namespace

const Lowering& IntElementwiseLowering() {
  static const Lowering kLowering{PlanIntElementwise, EmitIntElementwise, false};
  return kLowering;
}

}  // namespace codegen
}  // namespace tpusim::compiler
