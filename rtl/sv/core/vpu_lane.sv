// One lane of the vector unit: ACTIVATE (func over an accumulator word plus an optional bias) or one
// VECTOR op, bit for bit numerics::Activation / VectorElementwise / VectorReduceStep (inputs and
// results flushed to zero). In int8 mode words are int32: ACTIVATE adds the bias with wrap-around,
// relu clamps negatives to 0 and requantize is numerics::Requantize(v, scale = imm, zero_point)
// sign-extended (the requantize unit); VECTOR supports copy and relu only (rtl::CheckRtlSupport refuses the
// rest, as the functional engine does). Ops the RTL does not implement (exp, div, log, sqrt,
// reciprocal, erf, sigmoid, tanh) are refused before a run and give 0 here. cvt_i2f / cvt_f2i
// (numerics::CvtI2F / CvtF2I) read a's bits unflushed and are not flushed. Combinational.
module vpu_lane
  import isa_pkg::*;
  import core_pkg::*;
(
    input  logic        activate,   // 1: ACTIVATE (func, has_bias), 0: VECTOR (op)
    input  logic        int8,
    input  logic [3:0]  func,
    input  logic        has_bias,
    input  logic [5:0]  op,
    input  logic [31:0] a,          // ACTIVATE: accumulator word; VECTOR: a (reduce: the fold so far)
    input  logic [31:0] b,          // ACTIVATE: bias word; VECTOR: b (reduce: the next row)
    input  logic [31:0] imm,        // VECTOR: imm; ACTIVATE: the requantize scale
    input  logic [7:0]  zero_point, // ACTIVATE requantize: an int8
    output logic [31:0] y
);
  import fp32_pkg::ftz;

  logic [31:0] add_a, add_b, add_y, mul_a, mul_b, mul_y, fa, fb, fimm;
  logic [15:0] round_y;
  fp32_add_ftz u_add (.a(add_a), .b(add_b), .y(add_y));
  fp32_mul_ftz u_mul (.a(mul_a), .b(mul_b), .y(mul_y));
  bf16_round u_round (.x(fa), .y(round_y));
  logic [31:0] act_v;  // int8 ACTIVATE: the accumulator word plus the bias
  logic [7:0]  quant;
  assign act_v = has_bias ? a + b : a;
  // cvt_i2f: the word as an int32 -> fp32 (RNE). cvt_f2i: fp32 -> integer (half to even), |q| <= 2^32,
  // saturated to int32 below; a NaN gives q = 0.
  logic [31:0]        i2f_y, f2i_y;
  logic signed [33:0] f2i_q;
  logic               f2i_nan;
  int32_to_fp32 u_i2f (.v(a), .y(i2f_y));
  fp32_to_int_rne u_f2i (.x(a), .q(f2i_q), .nan(f2i_nan));
  always_comb begin
    if (f2i_nan) f2i_y = 32'd0;
    else if (f2i_q > 34'sh0_7FFF_FFFF) f2i_y = 32'h7FFF_FFFF;
    else if (f2i_q < -34'sh0_8000_0000) f2i_y = 32'h8000_0000;
    else f2i_y = f2i_q[31:0];
  end
  requantize u_requantize (
      .v         (act_v),
      .scale     (imm),
      .zero_point({{24{zero_point[7]}}, zero_point}),
      .y         (quant)
  );

  function automatic logic [31:0] relu(input logic [31:0] x);  // x flushed
    return (is_nan32(x) || (!x[31] && x[30:0] != 31'd0)) ? x : 32'd0;
  endfunction
  function automatic logic [31:0] fmax(input logic [31:0] x, input logic [31:0] z);
    if (is_nan32(x) || is_nan32(z)) return 32'h7FC0_0000;  // numerics::MaxF32: the quiet NaN
    return order_key(x) >= order_key(z) ? x : z;
  endfunction
  function automatic logic [31:0] fmin(input logic [31:0] x, input logic [31:0] z);
    if (is_nan32(x) || is_nan32(z)) return 32'h7FC0_0000;
    return order_key(x) <= order_key(z) ? x : z;
  endfunction

  // Operands of the shared adder and multiplier (a separate block from the result: no loop).
  always_comb begin
    fa    = ftz(a);
    fb    = ftz(b);
    fimm  = ftz(imm);
    add_a = fa;
    add_b = fb;
    mul_a = fa;
    mul_b = fb;
    if (!activate) begin
      case (32'(op))
        VOP_SUB: add_b = is_nan32(fb) ? fb : {~fb[31], fb[30:0]};  // a NaN b keeps its sign
        VOP_ADD_IMM: add_b = fimm;
        VOP_MUL_IMM, VOP_LEAKY_RELU: mul_b = fimm;
        default: ;
      endcase
    end
  end

  always_comb begin
    y = 32'd0;
    if (activate) begin
      if (int8) begin
        y = act_v;
        if (32'(func) == ACT_RELU && y[31]) y = 32'd0;
        if (32'(func) == ACT_REQUANTIZE) y = {{24{quant[7]}}, quant};
      end else begin
        y = has_bias ? add_y : fa;  // AddF32 flushes its result; Activation flushes its input
        if (32'(func) == ACT_RELU) y = relu(y);
      end
    end else if (int8) begin
      y = (32'(op) == VOP_RELU && a[31]) ? 32'd0 : a;
    end else begin
      case (32'(op))
        VOP_COPY: y = fa;
        VOP_RELU: y = relu(fa);
        VOP_ROUND_BF16: y = {round_y, 16'd0};
        VOP_ADD, VOP_REDUCE_SUM, VOP_SUB, VOP_ADD_IMM: y = add_y;
        VOP_MUL, VOP_MUL_IMM: y = mul_y;
        VOP_MAX, VOP_REDUCE_MAX: y = fmax(fa, fb);
        VOP_MIN: y = fmin(fa, fb);
        VOP_FILL: y = fimm;
        VOP_ABS: y = {1'b0, fa[30:0]};
        VOP_MAX_IMM: y = fmax(fa, fimm);
        VOP_MIN_IMM: y = fmin(fa, fimm);
        VOP_LEAKY_RELU: y = (fa[31] && fa[30:0] != 31'd0 && !is_nan32(fa)) ? mul_y : fa;
        VOP_CVT_I2F: y = i2f_y;
        VOP_CVT_F2I: y = f2i_y;
        default: y = 32'd0;
      endcase
    end
  end
endmodule
