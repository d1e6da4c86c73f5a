// IEEE binary32 add, round to nearest even, subnormal inputs and results flushed to zero of the
// same sign: numerics::AddF32(a, b), bit for bit. NaN priority: a, then b (each returned quieted);
// Inf + -Inf gives 0xFFC00000; an exact zero sum is +0 unless both operands are -0 (or flushed
// negative subnormals). Combinational.
module fp32_add_ftz (
    input  logic [31:0] a,
    input  logic [31:0] b,
    output logic [31:0] y
);
  import fp32_pkg::*;

  // The operand of larger magnitude (mag_hi, sign_hi) and the other one (mag_lo); on the datapath
  // below both are nonzero normals.
  logic               sign_hi;
  logic [30:0]        mag_hi, mag_lo;
  logic [7:0]         exp_diff;
  logic [5:0]         shift;
  logic [101:0]       lo_shifted;
  logic [50:0]        hi_ext, lo_ext, sum;
  logic [6:0]         lz;
  logic [63:0]        norm;
  logic signed [10:0] exp;
  logic [26:0]        mant;

  always_comb begin
    if (a[30:0] >= b[30:0]) begin
      sign_hi = a[31];
      mag_hi  = a[30:0];
      mag_lo  = b[30:0];
    end else begin
      sign_hi = b[31];
      mag_hi  = b[30:0];
      mag_lo  = a[30:0];
    end
    // Alignment on 51 bits: carry, 24 significand bits, 26 extra bits, so that a shift of up to 26
    // is exact; a larger shift leaves only a sticky bit in bit 0 (the smaller operand is then under
    // 1/8 ulp of the larger, and the sticky bit still rounds the difference correctly).
    exp_diff   = mag_hi[30:23] - mag_lo[30:23];
    shift      = (exp_diff > 8'd63) ? 6'd63 : exp_diff[5:0];
    lo_shifted = {1'b0, 1'b1, mag_lo[22:0], 77'd0} >> shift;
    hi_ext     = {1'b0, 1'b1, mag_hi[22:0], 26'd0};
    lo_ext     = {lo_shifted[101:52], |lo_shifted[51:0]};
    sum        = (a[31] ^ b[31]) ? hi_ext - lo_ext : hi_ext + lo_ext;
    // Normalise: the leading one goes to bit 63 of norm (bit 50 of sum is the carry position).
    lz         = lzc64({sum, 13'd0});
    norm       = {sum, 13'd0} << lz;
    exp        = 11'({3'd0, mag_hi[30:23]}) + 11'sd1 - 11'(lz);
    mant       = {norm[63:38], |norm[37:0]};

    if (is_nan(a[30:0])) y = quiet(a);
    else if (is_nan(b[30:0])) y = quiet(b);
    else if (is_inf(a[30:0]) && is_inf(b[30:0]) && (a[31] != b[31])) y = DEFAULT_NAN;
    else if (is_inf(a[30:0])) y = a;
    else if (is_inf(b[30:0])) y = b;
    else if (is_zero_ftz(a[30:23]) && is_zero_ftz(b[30:23])) y = {a[31] & b[31], 31'd0};
    else if (is_zero_ftz(a[30:23])) y = b;
    else if (is_zero_ftz(b[30:23])) y = a;
    else if (sum == 51'd0) y = 32'd0;  // x + (-x) is +0 when rounding to nearest
    else y = round_pack_ftz(sign_hi, exp, mant);
  end
endmodule
