// fp32 -> integer, round half to even (C++ nearbyint in the default rounding mode), for the
// requantizer: q is exact whenever |x| < 2^32 and is clamped to ±2^32 beyond (±Inf included), which
// keeps the sign and exceeds every int8 saturation bound after adding any int32 zero point.
// Subnormal inputs give 0 (they round to 0 in any case). nan flags a NaN input (q is then 0).
// Combinational.
module fp32_to_int_rne (
    input  logic [31:0]        x,
    output logic signed [33:0] q,
    output logic               nan
);
  import fp32_pkg::*;

  logic [63:0] fixed;      // |x| with 32 fraction bits, valid for biased exponents 126..158
  logic [32:0] magnitude;  // rounded |x|, at most 2^32
  logic        round_up;

  always_comb begin
    // |x| = {1, f} * 2^(e - 150); with 32 fraction bits that is {1, f} << (e - 118).
    fixed     = {40'd0, 1'b1, x[22:0]} << (x[30:23] - 8'd118);
    round_up  = fixed[31] & (fixed[32] | (|fixed[30:0]));
    if (x[30:23] < 8'd126) magnitude = 33'd0;  // |x| < 0.5 (zeros and subnormals included)
    else if (x[30:23] > 8'd158) magnitude = 33'h1_0000_0000;  // |x| >= 2^32, Inf, NaN
    else magnitude = {1'b0, fixed[63:32]} + {32'd0, round_up};
    nan = is_nan(x[30:0]);
    if (nan) q = 34'sd0;
    else q = x[31] ? -$signed({1'b0, magnitude}) : $signed({1'b0, magnitude});
  end
endmodule
