// The machine's numerics (numerics.h states each contract). fp32 operations rely on the host's IEEE
// binary32 arithmetic in the default rounding mode (round to nearest even); nothing here changes the
// floating-point environment.
#include "tpusim/isa/numerics.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::isa::numerics {
namespace {

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
float FromBits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// The NaN rule of every fp32 arithmetic operation (the RTL implements the same; it must not depend on
// which operand order the C++ compiler picks): a NaN operand makes the result the FIRST NaN operand in
// argument order, quieted (sign and payload kept); an invalid operation on non-NaN operands
// (Inf - Inf, 0 * Inf, 0 / 0) gives the default NaN kDefaultNaN.
constexpr uint32_t kDefaultNaN = 0xFFC00000u;  // x86's "real indefinite"
constexpr uint32_t kQuietBit = 0x00400000u;
inline bool IsNanBits(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }
float NanOf(float a, float b) {
  const uint32_t ua = Bits(a), ub = Bits(b);
  return FromBits(IsNanBits(ua) ? (ua | kQuietBit) : IsNanBits(ub) ? (ub | kQuietBit) : kDefaultNaN);
}
float Add(float a, float b) { const float r = a + b; return std::isnan(r) ? NanOf(a, b) : r; }
float Sub(float a, float b) { const float r = a - b; return std::isnan(r) ? NanOf(a, b) : r; }
float Mul(float a, float b) { const float r = a * b; return std::isnan(r) ? NanOf(a, b) : r; }
float Div(float a, float b) { const float r = a / b; return std::isnan(r) ? NanOf(a, b) : r; }

// IEEE maximum/minimum with NaN propagation; +0 is larger than -0.
float MaxF32(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<float>::quiet_NaN();
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
float MinF32(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<float>::quiet_NaN();
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

// ---- Activation functions, one per TPUSIM_ACT_FUNC (inputs already flushed) ----------------------
float ActNone(float x) { return x; }
float ActRelu(float x) { return (std::isnan(x) || x > 0.0f) ? x : 0.0f; }
float ActSigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float ActTanh(float x) { return std::tanh(x); }
// Requantize is an int8-mode activation (numerics::Requantize on int32 words); the engines reject it
// in float mode before Activation could see it, so here it passes the value through.
float ActRequantize(float x) { return x; }

// ---- Vector ops, one per TPUSIM_VECTOR_OP (inputs already flushed; results flushed by the caller).
// Reduce ops are the binary fold step f(acc, x) with acc in a and x in b.
float VecCopy(float a, float, float) { return a; }
float VecRelu(float a, float, float) { return ActRelu(a); }
float VecSigmoid(float a, float, float) { return ActSigmoid(a); }
float VecTanh(float a, float, float) { return ActTanh(a); }
float VecExp(float a, float, float) { return std::exp(a); }
float VecRoundBf16(float a, float, float) { return RoundToBf16(a); }
float VecAdd(float a, float b, float) { return Add(a, b); }
float VecSub(float a, float b, float) { return Sub(a, b); }
float VecMul(float a, float b, float) { return Mul(a, b); }
float VecDiv(float a, float b, float) { return Div(a, b); }  // IEEE: x/0 = ±Inf, 0/0 = NaN
float VecMax(float a, float b, float) { return MaxF32(a, b); }
float VecMin(float a, float b, float) { return MinF32(a, b); }
float VecAddImm(float a, float, float imm) { return Add(a, imm); }
float VecMulImm(float a, float, float imm) { return Mul(a, imm); }
float VecFill(float, float, float imm) { return imm; }
float VecReduceSum(float acc, float x, float) { return Add(acc, x); }
float VecReduceMax(float acc, float x, float) { return MaxF32(acc, x); }
float VecLog(float a, float, float) { return std::log(a); }    // logf
float VecSqrt(float a, float, float) { return std::sqrt(a); }  // sqrtf (IEEE, correctly rounded)
float VecReciprocal(float a, float, float) { return 1.0f / a; }
float VecAbs(float a, float, float) { return std::fabs(a); }
float VecErf(float a, float, float) { return std::erf(a); }  // erff
float VecMaxImm(float a, float, float imm) { return MaxF32(a, imm); }
float VecMinImm(float a, float, float imm) { return MinF32(a, imm); }
float VecLeakyRelu(float a, float, float imm) { return a < 0.0f ? a * imm : a; }
// cvt_i2f / cvt_f2i: VectorElementwise handles them on bit patterns before any flush; these entries
// of the X-macro table are never reached.
float VecCvtI2f(float a, float, float) { return a; }
float VecCvtF2i(float a, float, float) { return a; }

}  // namespace

float FlushSubnormal(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x;
}

uint16_t F32ToBf16Bits(float x) { return bits::F32ToBf16(Bits(x)); }

float Bf16BitsToF32(uint16_t b) { return FromBits(bits::Bf16ToF32(b)); }

float RoundToBf16(float x) { return Bf16BitsToF32(F32ToBf16Bits(x)); }

float AddF32(float a, float b) { return FromBits(bits::AddF32(Bits(a), Bits(b))); }
float MulF32(float a, float b) { return FlushSubnormal(Mul(FlushSubnormal(a), FlushSubnormal(b))); }
float MacBf16(float psum, float a, float b) { return AddF32(psum, MulF32(a, b)); }

float ColumnDotBf16(const float* x, const float* w, int n, int w_stride) {
  float s = 0.0f;
  for (int k = 0; k < n; ++k) s = MacBf16(s, x[k], w[static_cast<ptrdiff_t>(k) * w_stride]);
  return s;
}

namespace {
// The plain loop: FTZ on bit patterns, the host's IEEE add and multiply. It equals the NaN rule when
// neither x nor w holds a NaN: then a product is never NaN except an invalid 0 * Inf (the default NaN,
// which x86 also produces), so no operation ever sees two different NaN operands, and with one NaN
// operand every IEEE implementation returns that NaN quieted whatever the operand order.
void TileDotNoNanInputs(const float* x, const float* w, int rows, int cols, float* out) {
  for (int k = 0; k < rows; ++k) {
    const float xk = FromBits(bits::Ftz(Bits(x[k])));
    const float* wk = w + static_cast<ptrdiff_t>(k) * cols;
    for (int c = 0; c < cols; ++c) {
      out[c] = FromBits(bits::Ftz(Bits(out[c] + FromBits(bits::Ftz(Bits(xk * FromBits(bits::Ftz(Bits(wk[c])))))))));
    }
  }
}
}  // namespace

void TileDotBf16(const float* x, const float* w, int rows, int cols, float* out, bool w_may_have_nan) {
  for (int c = 0; c < cols; ++c) out[c] = 0.0f;
  bool x_has_nan = false;
  for (int k = 0; k < rows; ++k) x_has_nan |= IsNanBits(Bits(x[k]));
  if (!x_has_nan && !w_may_have_nan) return TileDotNoNanInputs(x, w, rows, cols, out);
  // The general case: MacBf16 per element, column after column in row-0-first order.
  for (int c = 0; c < cols; ++c) out[c] = ColumnDotBf16(x, w + c, rows, cols);
}

int32_t MacInt8(int32_t acc, int8_t a, int8_t b) {
  // |a*b| <= 2^14, so the product is exact in int32; the sum wraps modulo 2^32.
  uint32_t sum = static_cast<uint32_t>(acc) + static_cast<uint32_t>(int32_t{a} * int32_t{b});
  int32_t result;
  std::memcpy(&result, &sum, 4);
  return result;
}

int32_t ColumnDotInt8(const int8_t* x, const int8_t* w, int n, int w_stride) {
  int32_t acc = 0;
  for (int k = 0; k < n; ++k) acc = MacInt8(acc, x[k], w[static_cast<ptrdiff_t>(k) * w_stride]);
  return acc;
}

int8_t SaturateInt8(int32_t v) {
  if (v > 127) return 127;
  if (v < -128) return -128;
  return static_cast<int8_t>(v);
}

int8_t Requantize(int32_t v, float scale, int32_t zero_point) {
  float product = static_cast<float>(v) * scale;
  if (std::isnan(product)) return SaturateInt8(zero_point);
  // nearbyint rounds in the current mode, which this library never changes from the default (RNE).
  double q = static_cast<double>(std::nearbyint(product)) + zero_point;
  if (q > 127.0) return 127;
  if (q < -128.0) return -128;
  return static_cast<int8_t>(q);
}

float Activation(ActFunc f, float x) {
  x = FlushSubnormal(x);
  switch (f) {
#define TPUSIM_ACT_FUNC(NAME, CODE, MNEMONIC) \
  case ActFunc::NAME:                         \
    return FlushSubnormal(Act##NAME(x));
#include "tpusim/isa/opcodes.def"
  }
  TPUSIM_UNREACHABLE();
}

float CvtI2F(int32_t v) { return static_cast<float>(v); }  // cvtsi2ss: RNE in the default mode

int32_t CvtF2I(float x) {
  if (std::isnan(x)) return 0;
  // nearbyint rounds half to even in the default rounding mode, which this library never changes.
  const float r = std::nearbyint(x);
  if (r >= 2147483648.0f) return std::numeric_limits<int32_t>::max();
  if (r < -2147483648.0f) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(r);
}

uint32_t VectorElementwiseWord(VectorOp op, uint32_t a, uint32_t b, uint32_t imm) {
  if (op == VectorOp::CvtI2f) {
    int32_t v;
    std::memcpy(&v, &a, 4);
    return Bits(CvtI2F(v));
  }
  if (op == VectorOp::CvtF2i) return static_cast<uint32_t>(CvtF2I(FromBits(a)));
  return Bits(VectorElementwise(op, FromBits(a), FromBits(b), FromBits(imm)));
}

float VectorElementwise(VectorOp op, float a, float b, float imm) {
  if (op == VectorOp::CvtI2f || op == VectorOp::CvtF2i) {
    return FromBits(VectorElementwiseWord(op, Bits(a), Bits(b), Bits(imm)));
  }
  a = FlushSubnormal(a);
  b = FlushSubnormal(b);
  imm = FlushSubnormal(imm);
  switch (op) {
#define TPUSIM_VECTOR_OP(NAME, CODE, ARITY, MNEMONIC) \
  case VectorOp::NAME:                                \
    return FlushSubnormal(Vec##NAME(a, b, imm));
#include "tpusim/isa/opcodes.def"
  }
  TPUSIM_UNREACHABLE();
}

float VectorReduceStep(VectorOp op, float acc, float x) { return VectorElementwise(op, acc, x, 0.0f); }

uint32_t WidenToWord(DType dtype, const uint8_t* src) {
  switch (dtype) {
    case DType::F32:
    case DType::I32:
      return uint32_t{src[0]} | uint32_t{src[1]} << 8 | uint32_t{src[2]} << 16 | uint32_t{src[3]} << 24;
    case DType::BF16:
      return Bits(Bf16BitsToF32(static_cast<uint16_t>(src[0] | src[1] << 8)));
    case DType::I8:
      return static_cast<uint32_t>(int32_t{static_cast<int8_t>(src[0])});
  }
  TPUSIM_UNREACHABLE();
}

void NarrowFromWord(DType dtype, uint32_t word, uint8_t* dst) {
  switch (dtype) {
    case DType::F32:
    case DType::I32:
      for (int i = 0; i < 4; ++i) dst[i] = static_cast<uint8_t>(word >> (8 * i));
      return;
    case DType::BF16: {
      uint16_t h = F32ToBf16Bits(FromBits(word));
      dst[0] = static_cast<uint8_t>(h);
      dst[1] = static_cast<uint8_t>(h >> 8);
      return;
    }
    case DType::I8: {
      int32_t v;
      std::memcpy(&v, &word, 4);
      dst[0] = static_cast<uint8_t>(SaturateInt8(v));
      return;
    }
  }
  TPUSIM_UNREACHABLE();
}

}  // namespace tpusim::isa::numerics
