// IEEE binary32 multiply, round to nearest even, subnormal inputs and results flushed to zero of
// the same sign: numerics::MulF32(a, b), bit for bit. NaN priority: a, then b (each returned
// quieted); 0 * Inf (a flushed subnormal counts as 0) gives 0xFFC00000. Combinational.
module fp32_mul_ftz (
    input  logic [31:0] a,
    input  logic [31:0] b,
    output logic [31:0] y
);
  import fp32_pkg::*;

  logic               sign;
  logic [47:0]        product;
  logic signed [10:0] exp;
  logic [26:0]        mant;

  always_comb begin
    sign    = a[31] ^ b[31];
    product = {1'b1, a[22:0]} * {1'b1, b[22:0]};
    // product is in [2^46, 2^48); exp is the biased exponent of the normalised product.
    if (product[47]) begin
      exp  = 11'({3'd0, a[30:23]} + {3'd0, b[30:23]}) - 11'sd126;
      mant = {product[47:22], |product[21:0]};
    end else begin
      exp  = 11'({3'd0, a[30:23]} + {3'd0, b[30:23]}) - 11'sd127;
      mant = {product[46:21], |product[20:0]};
    end

    if (is_nan(a[30:0])) y = quiet(a);
    else if (is_nan(b[30:0])) y = quiet(b);
    else if ((is_inf(a[30:0]) && is_zero_ftz(b[30:23])) ||
             (is_zero_ftz(a[30:23]) && is_inf(b[30:0])))
      y = DEFAULT_NAN;
    else if (is_inf(a[30:0]) || is_inf(b[30:0])) y = {sign, 8'hFF, 23'd0};
    else if (is_zero_ftz(a[30:23]) || is_zero_ftz(b[30:23])) y = {sign, 31'd0};
    else y = round_pack_ftz(sign, exp, mant);
  end
endmodule
