// CompileInt8: MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv as an int8-mode program
// (lower_int8.h).
//
// Zero-point algebra (docs/quantization.md), all in int32 with two's-complement wrap-around, exact:
//   Y[m,n] = sum_k (A[m,k] - za)(B[k,n] - zb)
//          = (A.B)[m,n] + (A.(-zb J))[m,n] + ((-za J).B)[m,n] + K za zb
// with J all ones. Every product is an array pass (int8 x int8 -> int32 accumulate) into the same
// accumulator tile: A streamed against the B tile, rows filled with -za streamed against the same tile
// (no new weights), and A streamed against a weight tile filled with -zb (both fills are broadcast
// DMAs of one constant byte; a value of 128 is two passes of 64). K za zb enters as ACTIVATE's bias
// row. When B is a constant the compiler folds: B' = B - zb is the weight tile when it fits int8 (no
// -zb pass), and -za colsum(B') (+ K za zb) is a per-column bias row (no -za pass).
// ConvInteger / QLinearConv are the same GEMM with output positions as rows and (tap, channel block) as
// k-tiles read straight from X (or its zero-point-padded copy) by strided DMAs (lower_int8_conv.cc).
// QLinearMatMul / QLinearConv then requantize in ACTIVATE (numerics::Requantize with the multiplier
// fp32(fp32(a_scale * b_scale) / y_scale), the CPU kernels' formula) and store int8.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_context.h"
#include "lower_int8.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

using codegen::CodegenContext;
using codegen::DramView;

uint64_t ElementBytes(DataType t) { return t == DataType::kInt32 ? 4 : 1; }

isa::TensorType BindingType(DataType t) { return t == DataType::kInt32 ? isa::INT32 : isa::INT8; }

const Tensor* ConstantInput(const Graph& g, const Node& node, int i) {
  if (i < 0 || static_cast<size_t>(i) >= node.inputs.size() || node.inputs[i].empty()) return nullptr;
  const Value* v = g.FindValue(node.inputs[i]);
  return v != nullptr && v->constant.has_value() ? &*v->constant : nullptr;
}

// Where W[k][n] sits in W's tensor: g * group_stride + k * k_stride + n * n_stride (g: B batch).
struct WeightLayout {
  uint64_t k = 0, n = 0, k_stride = 0, n_stride = 0, groups = 1, group_stride = 0;
};

// The GEMM ktiles and blocks of a MatMulInteger / QLinearMatMul (numpy batching, one side may be 2-D).
struct MatMulShape {
  uint64_t batch = 1, m = 0, k = 0, n = 0;
  bool a_batched = false, b_batched = false;
};

MatMulShape MatMulShapeOf(const CodegenContext& ctx, const Node& node) {
  const Int8Inputs io = Int8InputsOf(node);
  const Shape& as = ctx.ShapeOf(node.inputs[io.a]);
  const Shape& bs = ctx.ShapeOf(node.inputs[io.b]);
  MatMulShape s;
  s.m = as[as.size() - 2];
  s.k = as.back();
  s.n = bs.back();
  s.a_batched = as.size() > 2;
  s.b_batched = bs.size() > 2;
  const Shape& batch = s.a_batched ? as : bs;
  for (size_t i = 0; i + 2 < batch.size(); ++i) s.batch *= static_cast<uint64_t>(batch[i]);
  return s;
}

void PlanMatMulTiles(const CodegenContext& ctx, const MatMulShape& s, Int8Plan& p) {
  const uint64_t rows = ctx.array_rows();
  for (uint64_t k0 = 0; k0 < s.k; k0 += rows) p.ktiles.push_back({k0, 1, k0 * s.n, s.n, std::min(rows, s.k - k0)});
  p.b_col_stride = 1;
}

void PlanMatMulBlocks(const MatMulShape& s, uint64_t a, uint64_t w, uint64_t bias, Int8Plan& p) {
  for (uint64_t b = 0; b < s.batch; ++b) {
    for (uint64_t m0 = 0; m0 < s.m; m0 += p.mt) {
      Int8Block blk;
      blk.a = a + ((s.a_batched ? b * s.m : 0) + m0) * s.k;
      blk.a_row_stride = s.k;
      blk.rows = std::min(p.mt, s.m - m0);
      blk.w = w + (s.b_batched ? b * s.k * s.n : 0);
      blk.bias = bias + (p.bias_per_column && s.b_batched ? b * s.n * 4 : 0);
      blk.y = (b * s.m + m0) * s.n;
      blk.y_row_stride = s.n;
      p.blocks.push_back(blk);
    }
  }
}

uint64_t AddSegment(CodegenContext& ctx, const std::string& name, const void* data, size_t bytes) {
  const uint64_t offset = ctx.Allocate(bytes);
  isa::Segment seg;
  seg.set_name(name);
  seg.set_dram_offset(offset);
  seg.set_data(data, bytes);
  ctx.segments().push_back(std::move(seg));
  return offset;
}

absl::StatusOr<Int8Plan> PlanNode(const Node& node, CodegenContext& ctx, const std::map<std::string, uint64_t>& frame) {
  const Graph& g = ctx.graph();
  const Int8Inputs io = Int8InputsOf(node);
  Int8Plan p;
  const int32_t za = DeviceZeroPoint(ConstantInput(g, node, io.za), ctx.ValueOf(node.inputs[io.a]).dtype);
  const int32_t zb = DeviceZeroPoint(ConstantInput(g, node, io.zb), ctx.ValueOf(node.inputs[io.b]).dtype);
  if (io.zy >= 0) {
    const float sa = ConstantInput(g, node, io.sa)->as<float>()[0];
    const float sb = ConstantInput(g, node, io.sb)->as<float>()[0];
    const float sy = ConstantInput(g, node, io.sy)->as<float>()[0];
    p.requantize = true;
    p.scale = (sa * sb) / sy;  // the CPU kernels' multiplier, bit for bit (fp32 multiply, fp32 divide)
    p.y_zero_point = DeviceZeroPoint(ConstantInput(g, node, io.zy), ctx.ValueOf(node.outputs[0]).dtype);
  }
  uint64_t a = 0;
  if (const Tensor* t = ConstantInput(g, node, io.a)) {
    const Tensor d = ToDeviceInt8(*t);
    a = AddSegment(ctx, node.name + "/A", d.data(), d.byte_size());
  } else {
    a = frame.at(node.inputs[io.a]);
  }
  const bool conv = IsInt8Conv(node);
  WeightLayout wl;
  MatMulShape ms;
  Int8ConvShape cs;
  if (conv) {
    TPUSIM_ASSIGN_OR_RETURN(cs, Int8ConvShapeOf(ctx, node));
    wl = {cs.k, cs.m, 1, cs.k, 1, 0};
  } else {
    ms = MatMulShapeOf(ctx, node);
    wl = {ms.k, ms.n, ms.n, 1, ms.b_batched ? ms.batch : 1, ms.k * ms.n};
  }
  p.n = wl.n;
  p.k = wl.k;
  const uint32_t kzz = static_cast<uint32_t>(p.k) * static_cast<uint32_t>(za) * static_cast<uint32_t>(zb);
  const Tensor* conv_bias = ConstantInput(g, node, io.bias);  // int32 [M], added before requantizing
  std::vector<uint32_t> bias;  // int32 bits, wrap-around arithmetic
  uint64_t w = 0;
  if (const Tensor* t = ConstantInput(g, node, io.b)) {
    const Tensor d = ToDeviceInt8(*t);
    const int8_t* wd = d.as<int8_t>();
    const bool fold = std::all_of(wd, wd + d.num_elements(), [&](int8_t v) { return v - zb >= -128 && v - zb <= 127; });
    std::vector<int8_t> wf(wd, wd + d.num_elements());
    if (fold) {
      for (int8_t& v : wf) v = static_cast<int8_t>(v - zb);
    } else {
      p.zb_terms = Int8Terms(-zb);
    }
    bias.assign(wl.groups * wl.n, fold ? 0u : kzz);
    for (uint64_t gi = 0; gi < wl.groups; ++gi) {
      for (uint64_t k = 0; k < wl.k; ++k) {
        for (uint64_t n = 0; n < wl.n; ++n) {
          const int32_t v = wf[gi * wl.group_stride + k * wl.k_stride + n * wl.n_stride];
          bias[gi * wl.n + n] -= static_cast<uint32_t>(za) * static_cast<uint32_t>(v);
        }
      }
    }
    w = AddSegment(ctx, node.name + "/W", wf.data(), wf.size());
    p.bias_per_column = true;
  } else {
    w = frame.at(node.inputs[io.b]);
    p.za_terms = Int8Terms(-za);
    p.zb_terms = Int8Terms(-zb);
    bias.assign(conv_bias != nullptr ? wl.n : 1, kzz);
    p.bias_per_column = conv_bias != nullptr;
  }
  if (conv_bias != nullptr) {
    for (uint64_t n = 0; n < wl.n; ++n) bias[n] += static_cast<uint32_t>(conv_bias->as<int32_t>()[n]);
  }
  const uint64_t bias_at = AddSegment(ctx, node.name + "/bias", bias.data(), bias.size() * sizeof(uint32_t));
  std::vector<int8_t> consts = p.za_terms;
  consts.insert(consts.end(), p.zb_terms.begin(), p.zb_terms.end());
  consts.push_back(static_cast<int8_t>(za));  // the pad fill of a conv
  p.consts = AddSegment(ctx, node.name + "/zero_point_terms", consts.data(), consts.size());
  // Tiles, then the output rows per block from the UB: every k-tile of one A block, the -za rows, the
  // output tile and the bias row.
  if (conv) {
    PlanConvTiles(ctx, cs, p);
  } else {
    PlanMatMulTiles(ctx, ms, p);
  }
  const uint64_t by_ub = (ctx.ub_rows() - 1) / (p.ktiles.size() + p.za_terms.size() + 1);
  const uint64_t rows = conv ? cs.out_w : ms.m;
  p.mt = std::min<uint64_t>({rows, ctx.arch().accumulator_entries(), by_ub, codegen::kMaxInstRows});
  if (p.mt == 0) {
    return absl::ResourceExhaustedError(absl::StrCat(codegen::NodeLabel(node), ": ", p.ktiles.size(),
                                                     " k-tiles need ", p.ktiles.size() + p.za_terms.size() + 2,
                                                     " UB rows for one output row; arch ", ctx.arch().name(), " has ",
                                                     ctx.ub_rows()));
  }
  if (conv) {
    PlanConvBlocks(ctx, node, cs, a, w, bias_at, p);
  } else {
    PlanMatMulBlocks(ms, a, w, bias_at, p);
  }
  return p;
}

void Matmul(CodegenContext& ctx, uint64_t ub_row, uint64_t rows, bool accumulate, bool pop) {
  isa::MatmulArgs a;
  a.dtype = static_cast<uint64_t>(isa::DType::I8);
  a.accumulate = accumulate ? 1 : 0;
  a.pop_weights = pop ? 1 : 0;
  a.ub_row = ub_row;
  a.acc_row = 0;
  a.rows = rows;
  ctx.Emit(isa::Make(isa::Opcode::MATMUL, a));
}

void Activate(CodegenContext& ctx, const Int8Plan& p, uint64_t ub_row, uint64_t rows, uint64_t bias_row) {
  isa::ActivateArgs a;
  a.func = static_cast<uint64_t>(p.requantize ? isa::ActFunc::Requantize : isa::ActFunc::None);
  a.has_bias = 1;
  a.acc_row = 0;
  a.ub_row = ub_row;
  a.rows = rows;
  a.bias_row = bias_row;
  a.scale = isa::F32Bits(p.scale);
  a.zero_point = static_cast<uint8_t>(static_cast<int8_t>(p.y_zero_point));
  ctx.Emit(isa::Make(isa::Opcode::ACTIVATE, a));
}

void EmitNode(const Int8Plan& p, uint64_t y, CodegenContext& ctx) {
  for (const Int8PadCopy& pad : p.pads) EmitInt8PadCopy(ctx, pad, p.consts + p.za_terms.size() + p.zb_terms.size());
  const uint64_t lanes = ctx.array_rows(), cols = ctx.array_cols();
  const uint64_t kts = p.ktiles.size(), nza = p.za_terms.size(), mt = p.mt;
  const uint64_t a_row = 0, za_row = kts * mt, out_row = za_row + nza * mt, bias_row = out_row + mt;
  const isa::DType out_type = p.requantize ? isa::DType::I8 : isa::DType::I32;
  const uint64_t out_bytes = p.requantize ? 1 : 4;
  for (uint64_t t = 0; t < nza; ++t) ctx.Load(isa::DType::I8, DramView{p.consts + t, 0, 0}, za_row + t * mt, mt, lanes);
  for (const Int8Block& blk : p.blocks) {
    for (uint64_t kt = 0; kt < kts; ++kt) {
      const Int8KTile& tile = p.ktiles[kt];
      ctx.Load(isa::DType::I8, DramView{blk.a + tile.a_off, blk.a_row_stride, tile.a_lane_stride}, a_row + kt * mt,
               blk.rows, tile.rows);
    }
    for (uint64_t n0 = 0; n0 < p.n; n0 += cols) {
      const uint64_t nt = std::min(cols, p.n - n0);
      const uint64_t bias_at = blk.bias + (p.bias_per_column ? n0 * 4 : 0);
      ctx.Load(isa::DType::I32, DramView{bias_at, 0, p.bias_per_column ? 1u : 0u}, bias_row, 1, nt);
      for (uint64_t kt = 0; kt < kts; ++kt) {
        const Int8KTile& tile = p.ktiles[kt];
        ctx.LoadWeights(isa::DType::I8, DramView{blk.w + tile.b_off + n0 * p.b_col_stride, tile.b_row_stride, p.b_col_stride},
                        tile.rows, nt);
        Matmul(ctx, a_row + kt * mt, blk.rows, kt > 0, true);
        for (uint64_t t = 0; t < nza; ++t) Matmul(ctx, za_row + t * mt, blk.rows, true, false);
        for (uint64_t t = 0; t < p.zb_terms.size(); ++t) {
          ctx.LoadWeights(isa::DType::I8, DramView{p.consts + nza + t, 0, 0}, tile.rows, nt);
          Matmul(ctx, a_row + kt * mt, blk.rows, true, true);
        }
      }
      Activate(ctx, p, out_row, blk.rows, bias_row);
      const uint64_t y_at = y + (blk.y + n0 * blk.y_col_stride) * out_bytes;
      ctx.Store(out_type, DramView{y_at, blk.y_row_stride, blk.y_col_stride}, out_row, blk.rows, nt);
    }
  }
}

}  // namespace

absl::StatusOr<isa::Program> CompileInt8(const Graph& graph_in, const CompileOptions& options) {
  if (!isa::SupportsMatmulType(options.arch, isa::INT8_INT32)) {
    return absl::UnimplementedError(absl::StrCat("arch ", options.arch.name(),
                                                 " has no INT8_INT32 matrix mode; int8-mode ops need it"));
  }
  for (const Node& node : graph_in.nodes) {
    if (!IsInt8ModeOpType(node.op_type)) {
      return absl::UnimplementedError(absl::StrCat(codegen::NodeLabel(node), " is a float-mode op in an int8-mode program: "
                                                   "a program has one matrix mode (the runtime splits segments by mode)"));
    }
  }
  TPUSIM_RETURN_IF_ERROR(graph_in.Validate());
  Graph graph = graph_in;
  TPUSIM_RETURN_IF_ERROR(InferShapes(graph));
  for (const Node& node : graph.nodes) TPUSIM_RETURN_IF_ERROR(CheckInt8Support(node, graph, {}));
  CodegenContext ctx(graph, options);
  isa::Program prog;
  std::map<std::string, uint64_t> frame;  // non-constant values -> frame offsets
  auto place = [&](const std::string& name) {
    if (frame.count(name)) return;
    const uint64_t bytes = static_cast<uint64_t>(NumElements(ctx.ShapeOf(name))) * ElementBytes(ctx.ValueOf(name).dtype);
    frame[name] = ctx.Allocate(bytes);
  };
  auto binding = [&](const std::string& name) {
    isa::Binding b;
    b.set_name(name);
    b.set_dram_offset(frame.at(name));
    for (int64_t d : ctx.ShapeOf(name)) b.add_shape(d);
    b.set_dtype(BindingType(ctx.ValueOf(name).dtype));
    return b;
  };
  for (const std::string& name : graph.inputs) {
    const DataType t = ctx.ValueOf(name).dtype;
    if (t != DataType::kInt8 && t != DataType::kUint8 && t != DataType::kInt32) {
      return absl::UnimplementedError(absl::StrCat("graph input '", name, "' is ", std::string(DataTypeName(t)),
                                                   "; an int8-mode program takes int8, uint8 and int32 tensors"));
    }
    place(name);
    *prog.add_inputs() = binding(name);
  }
  for (const std::string& name : graph.outputs) {
    if (frame.count(name) || ctx.ValueOf(name).constant.has_value()) {
      return absl::UnimplementedError(absl::StrCat("graph output '", name, "' is an input or a constant of an int8-mode program"));
    }
    place(name);
    *prog.add_outputs() = binding(name);
  }
  std::vector<Int8Plan> plans;
  for (const Node& node : graph.nodes) {
    place(node.outputs[0]);
    TPUSIM_ASSIGN_OR_RETURN(Int8Plan p, PlanNode(node, ctx, frame));
    plans.push_back(std::move(p));
  }
  if (ctx.frame_bytes() > options.arch.dram_bytes()) {
    return absl::ResourceExhaustedError(absl::StrCat("int8 program needs ", ctx.frame_bytes(), " bytes of device DRAM, arch ",
                                                     options.arch.name(), " has ", options.arch.dram_bytes()));
  }
  ctx.FinishPlanning();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    prog.add_op_names(graph.nodes[i].name);
    ctx.BeginOp(static_cast<uint32_t>(i));
    EmitNode(plans[i], frame.at(graph.nodes[i].outputs[0]), ctx);
  }
  prog.add_op_names("<program>");
  ctx.BeginOp(static_cast<uint32_t>(graph.nodes.size()));
  ctx.Halt();
  prog.set_isa_version(isa::kIsaVersion);
  *prog.mutable_arch() = options.arch;
  prog.set_precision("int8");
  prog.set_frame_bytes(ctx.frame_bytes());
  for (isa::Segment& seg : ctx.segments()) *prog.add_constants() = std::move(seg);
  TPUSIM_ASSIGN_OR_RETURN(std::string code, isa::EncodeProgram(ctx.code()));
  prog.set_code(std::move(code));
  for (uint32_t op : ctx.inst_op()) prog.add_inst_op(op);
  return prog;
}

}  // namespace tpusim::compiler::detail
