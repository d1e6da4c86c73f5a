// The int8-mode path of the compiler (docs/quantization.md): MatMulInteger and QLinearMatMul run on
// the systolic array in its INT8_INT32 mode. A program is either float mode or int8 mode (the driver
// picks the mode from Program.precision, "int8" here), so the runtime compiles the int8 ops as their own
// segments (runtime/src/session_segments.cc) and Compile() hands a graph of int8-mode ops to
// CompileInt8. Private to compiler_backend/src.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/program.pb.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::codegen {
class CodegenContext;
}  // namespace tpusim::compiler::codegen

namespace tpusim::compiler::detail {

// MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv: the ops lowered in int8 mode.
bool IsInt8ModeOpType(std::string_view op_type);
// True if some node of `graph` is an int8-mode op.
bool HasInt8ModeNodes(const Graph& graph);

// The operands the int8 lowering reads at compile time: the zero points of MatMulInteger and
// ConvInteger (inputs 2, 3), the scales and zero points of QLinearMatMul and QLinearConv (inputs 1, 2,
// 4, 5, 6, 7) and QLinearConv's int32 bias (input 8).
bool IsInt8CompileTimeOperand(const Node& node, size_t index);

// CheckTpuSupport for an int8-mode op (Unimplemented with the reason otherwise): A and B int8 or uint8,
// rank >= 2 with known non-zero dims, batch dims equal or one side 2-D; scalar zero points and scales,
// constants or compile-time inputs. The arch's INT8_INT32 support is the runtime's check (placement).
absl::Status CheckInt8Support(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs);

// Shape functions (InferShapes): the numpy-matmul shape of A (input 0) and B (input 1 / input 3), and
// the Conv shape of X (input 0) and W (input 1 / input 3).
absl::StatusOr<Shape> MatMulIntegerShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> QLinearMatMulShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ConvIntegerShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> QLinearConvShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);

// Input indices of an int8-mode op: A / X, B / W, their zero points, the QLinear scales (a, b, y) and
// y zero point, and QLinearConv's bias; -1 when the op has none.
struct Int8Inputs {
  int a = 0, b = 1, za = 2, zb = 3;
  int sa = -1, sb = -1, sy = -1, zy = -1, bias = -1;
};
Int8Inputs Int8InputsOf(const Node& node);
bool IsInt8Conv(const Node& node);

// The device value of a zero point tensor's one element (ToDeviceInt8: uint8 u -> u - 128). Absent
// (nullptr), the zero point is 0 of the operand's type `operand`: -128 on the device for uint8.
int32_t DeviceZeroPoint(const Tensor* zero_point, DataType operand);

// int8 values whose sum is v, for v in [-256, 254]: none for 0, one when v fits int8, else two.
std::vector<int8_t> Int8Terms(int32_t v);

// ---- Codegen plan of one int8-mode node (lower_int8.cc emits it; lower_int8_conv.cc plans convs) ----
// Every node is a GEMM Y[r, n] = sum_k A[r, k] W[k, n] over blocks of output rows r (addresses in
// bytes; A and W int8, Y int32 or, requantized, int8).
struct Int8KTile {
  uint64_t a_off = 0, a_lane_stride = 1;  // A lanes: block.a + a_off + lane * a_lane_stride
  uint64_t b_off = 0, b_row_stride = 0;   // W rows: w + b_off + row * b_row_stride (+ n * b_col_stride)
  uint64_t rows = 0;                      // k indices in the tile (<= array_rows)
};
struct Int8Block {
  uint64_t a = 0, a_row_stride = 0, rows = 0;  // A rows: a + r * a_row_stride
  uint64_t w = 0, bias = 0;                     // W base, bias row base (per column unless broadcast)
  uint64_t y = 0, y_row_stride = 0, y_col_stride = 1;  // in Y elements
};
// A padded copy of X made before the GEMM (conv padding: filled with the X zero point, so padded
// taps contribute (zx - zx) = 0).
struct Int8PadCopy {
  uint64_t x = 0, xp = 0, planes = 0, h = 0, w = 0, hp = 0, wp = 0, top = 0, left = 0;
};
struct Int8Plan {
  uint64_t n = 0, k = 0;  // output columns; reduction length
  uint64_t b_col_stride = 1;
  uint64_t mt = 0;  // output rows per block (<= accumulator rows)
  std::vector<Int8KTile> ktiles;
  std::vector<Int8Block> blocks;
  std::vector<int8_t> za_terms;  // rows of these values streamed against each W tile
  std::vector<int8_t> zb_terms;  // W tiles filled with these values A is streamed against
  uint64_t consts = 0;           // za_terms then zb_terms, one byte each; then zx (pad fill)
  bool bias_per_column = false;
  bool requantize = false;
  float scale = 1.0f;
  int32_t y_zero_point = 0;
  std::vector<Int8PadCopy> pads;
};

// ConvInteger / QLinearConv (lower_int8_conv.cc), 1-D convs as 2-D with height 1. Rows of the GEMM are
// output positions (one output row per block), k-tiles are (kh, kw, channel block): A lanes step
// through channels of the (padded) X at one tap, W rows through W[m][c][kh][kw].
struct Int8ConvShape {
  uint64_t batch = 0, c = 0, h = 0, w = 0, m = 0, kh = 0, kw = 0;
  uint64_t sh = 1, sw = 1, dh = 1, dw = 1, top = 0, left = 0, hp = 0, wp = 0, out_h = 0, out_w = 0;
  uint64_t k = 0;  // c * kh * kw
  bool padded = false;
};
absl::StatusOr<Int8ConvShape> Int8ConvShapeOf(const codegen::CodegenContext& ctx, const Node& node);
void PlanConvTiles(const codegen::CodegenContext& ctx, const Int8ConvShape& s, Int8Plan& p);
// Plan phase: the padded copy of X (when padded) and the blocks reading it.
void PlanConvBlocks(codegen::CodegenContext& ctx, const Node& node, const Int8ConvShape& s, uint64_t x, uint64_t w,
                    uint64_t bias, Int8Plan& p);
// Emit phase: fills pad.xp with the byte at `fill` and copies X into its interior.
void EmitInt8PadCopy(codegen::CodegenContext& ctx, const Int8PadCopy& pad, uint64_t fill);

// Compiles a graph whose nodes are all int8-mode ops to an int8-mode program (precision "int8").
// Bindings: int8 and uint8 values are INT8 (uint8 in the device representation), int32 values INT32.
absl::StatusOr<isa::Program> CompileInt8(const Graph& graph, const CompileOptions& options);

}  // namespace tpusim::compiler::detail
