// The numerics of the machine, defined once. Every engine (functional, cycle) and every compiler
// constant-folding step calls these; rtl/ implements the same functions in SystemVerilog and a test
// compares the two. DESIGN.md "Numerics" is the specification; each function states its contract.
#pragma once

#include <cstdint>
#include <cstring>

#include "tpusim/isa/instruction.h"

namespace tpusim::isa::numerics {

// ---- bf16 -----------------------------------------------------------------------------------------
// Flush-to-zero: a subnormal fp32 becomes zero of the same sign; every other value is unchanged.
float FlushSubnormal(float x);
// fp32 -> bf16 bits: FTZ on input, round to nearest even on the 16 dropped bits, overflow rounds to
// ±Inf, NaN stays NaN (quieted: the result has the quiet bit set and keeps the sign), and a result that
// would be subnormal is flushed to zero of the same sign.
uint16_t F32ToBf16Bits(float x);
// bf16 bits -> fp32 (exact; subnormal bf16 inputs are flushed to zero).
float Bf16BitsToF32(uint16_t bits);
// F32 -> nearest bf16 value, as fp32 (Bf16BitsToF32(F32ToBf16Bits(x))).
float RoundToBf16(float x);

// ---- the same on bit patterns ---------------------------------------------------------------------
// The definitions of FlushSubnormal, F32ToBf16Bits, Bf16BitsToF32 and AddF32 (numerics.cc calls these),
// on fp32 bit patterns, inline and free of branches so that loops over large tensors vectorise (the
// compiler's bf16 constant splits). Contracts as above.
namespace bits {
inline uint32_t Ftz(uint32_t u) { return (u & 0x7f800000u) != 0 ? u : (u & 0x80000000u); }
inline bool IsNan(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }
inline uint16_t F32ToBf16(uint32_t u) {
  const uint32_t f = Ftz(u);
  const uint32_t lsb = (f >> 16) & 1;
  // Round to nearest even on the 16 dropped bits; a carry out of the mantissa bumps the exponent, and
  // the largest finite values carry into the Inf pattern.
  uint32_t r = ((f + 0x7fffu + lsb) >> 16) & 0xFFFFu;
  r = ((r & 0x7f80u) == 0 && (r & 0x007fu) != 0) ? (r & 0x8000u) : r;  // subnormal result: flush
  return static_cast<uint16_t>(IsNan(f) ? ((f >> 16) | 0x0040u) : r);  // NaN: quiet, keeps the sign
}
inline uint32_t Bf16ToF32(uint16_t b) {
  return (b & 0x7f80u) == 0 ? uint32_t{static_cast<uint16_t>(b & 0x8000u)} << 16 : uint32_t{b} << 16;
}
// AddF32 on bit patterns: FTZ operands, the host's IEEE add, the NaN rule below (first NaN operand
// quieted, else the default NaN 0xFFC00000), FTZ result.
inline uint32_t AddF32(uint32_t a, uint32_t b) {
  a = Ftz(a);
  b = Ftz(b);
  float fa, fb;
  std::memcpy(&fa, &a, 4);
  std::memcpy(&fb, &b, 4);
  const float fr = fa + fb;
  uint32_t r;
  std::memcpy(&r, &fr, 4);
  if (IsNan(r)) r = IsNan(a) ? (a | 0x00400000u) : IsNan(b) ? (b | 0x00400000u) : 0xFFC00000u;
  return Ftz(r);
}
}  // namespace bits

// ---- fp32 arithmetic of the array and the vector unit ---------------------------------------------
// NaN rule of every fp32 arithmetic operation here (and in the RTL): a NaN operand makes the result the
// first NaN operand in argument order, quieted (sign and payload kept); an invalid operation on non-NaN
// operands (Inf - Inf, 0 * Inf, 0 / 0) gives the default NaN 0xFFC00000. It never depends on the
// compiler's operand order or optimisation level.
// IEEE fp32 add / multiply, round to nearest even, subnormal inputs and results flushed to zero.
float AddF32(float a, float b);
float MulF32(float a, float b);
// One processing element in bf16 mode: psum + a*b where a, b are already bf16 values (the product is
// exact in fp32), then rounded to fp32 (RNE) with FTZ. Equivalent to AddF32(psum, MulF32(a, b)).
float MacBf16(float psum, float a, float b);
// A column of the array in bf16 mode: x and w hold n values already rounded to bf16; the partial sum
// starts at +0.0 at row 0 and flows down: s = MacBf16(s, x[k], w[k]) for k = 0, 1, ..., n-1.
float ColumnDotBf16(const float* x, const float* w, int n, int w_stride);
// A whole array pass for one input row: out[c] = ColumnDotBf16(x, w + c, rows, cols) for every column
// c < cols, where w is a row-major rows x cols tile. Bit-identical to the per-column form. When x has
// no NaN and the caller knows w has none (w_may_have_nan = false, e.g. checked once per weight tile) a
// plain loop the compiler vectorises across columns runs instead (see numerics.cc for why it is equal).
void TileDotBf16(const float* x, const float* w, int rows, int cols, float* out, bool w_may_have_nan = true);

// ---- int8 -----------------------------------------------------------------------------------------
// int8 x int8 -> int32 product added to a 32-bit accumulator with two's-complement wrap-around.
int32_t MacInt8(int32_t acc, int8_t a, int8_t b);
int32_t ColumnDotInt8(const int8_t* x, const int8_t* w, int n, int w_stride);
// Saturating conversion of an int32 to int8 ([-128, 127]).
int8_t SaturateInt8(int32_t v);
// Requantize: q = saturate_int8(round_half_even(fp32(v) * scale) + zero_point), where fp32(v) rounds
// v to the nearest fp32 (RNE) and the product is an fp32 multiply (RNE). NaN scale gives zero_point.
int8_t Requantize(int32_t v, float scale, int32_t zero_point);

// ---- Vector unit (fp32) ---------------------------------------------------------------------------
// Activation functions and vector ops, applied to fp32 values with FTZ on inputs and results.
// sigmoid(x) = 1 / (1 + exp(-x)); tanh and exp are the C library's binary32 functions (glibc, correctly
// rounded in practice on x86-64), the one definition every engine uses. Likewise log = logf,
// erf = erff (glibc's binary32 functions: within 1 ulp, the same bits on every engine because every
// engine calls this one definition), sqrt = sqrtf (IEEE, correctly rounded), reciprocal = 1.0f / a
// (IEEE division), abs = fabsf (the sign bit cleared). max_imm / min_imm are max / min with imm
// (NaN-propagating, +0 > -0); leaky_relu(a, imm) = a < 0 ? a * imm : a (NaN and -0 pass through).
// Because inputs are flushed, log and reciprocal of a subnormal act on ±0 (-Inf, ±Inf).
float Activation(ActFunc f, float x);
// Unary, Binary and Imm ops: b is ignored by Unary ops; imm is used by Imm ops only.
// Reduce ops are folded with VectorReduceStep(op, acc, x) starting from the first row's value.
//
// cvt_i2f and cvt_f2i act on bit patterns, not on flushed fp32 values: VectorElementwise passes their
// `a` unflushed and returns the result unflushed, the float carrying the word's bits (a float copy never
// changes bits on the hosts we support). Engines that hold 32-bit words call VectorElementwiseWord.
float VectorElementwise(VectorOp op, float a, float b, float imm);
float VectorReduceStep(VectorOp op, float acc, float x);
// VectorElementwise on 32-bit UB words (fp32 bits, or an int32 for cvt_i2f's input and cvt_f2i's
// result): the form every engine and the RTL test use.
uint32_t VectorElementwiseWord(VectorOp op, uint32_t a, uint32_t b, uint32_t imm);
// cvt_i2f: the int32 -> the nearest fp32, round to nearest even (static_cast<float>): exact for
// |v| <= 2^24, e.g. 16777217 -> 16777216.0f; never subnormal (|v| >= 1 or v = 0 -> +0).
float CvtI2F(int32_t v);
// cvt_f2i: fp32 -> int32, round half to even (0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -2.5 -> -2),
// saturating to [-2^31, 2^31 - 1] (±Inf included); NaN -> 0. A subnormal input gives 0 (flushed or
// not, it rounds to 0). This is ONNX QuantizeLinear's rounding.
int32_t CvtF2I(float x);

// ---- DRAM <-> UB element conversion (LOAD/STORE/LOAD_WEIGHTS) --------------------------------------
// A UB / accumulator word is 32 bits: fp32 bits in float mode, int32 in int8 mode.
// widen: f32 -> the same bits; bf16 -> fp32 bits (exact); i8 -> sign-extended int32; i32 -> same bits.
uint32_t WidenToWord(DType dtype, const uint8_t* src);
// narrow: f32 -> same bits; bf16 -> F32ToBf16Bits of the word as fp32; i8 -> SaturateInt8 of the word
// as int32; i32 -> same bits. Writes DTypeBytes(dtype) bytes, little-endian.
void NarrowFromWord(DType dtype, uint32_t word, uint8_t* dst);

}  // namespace tpusim::isa::numerics
