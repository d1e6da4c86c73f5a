// int32 accumulator -> int8: y = saturate_int8(round_half_even(fp32(v) * scale) + zero_point),
// where fp32(v) rounds to nearest even and the product is an fp32 multiply (RNE); a NaN product
// (NaN scale, or v = 0 with an infinite scale) gives saturate_int8(zero_point):
// numerics::Requantize, bit for bit. The reference multiplies without flushing subnormals; the FTZ
// multiplier used here differs only on products of magnitude below 2^-95, which round to 0 either
// way. Combinational.
module requantize (
    input  logic [31:0] v,
    input  logic [31:0] scale,
    input  logic [31:0] zero_point,
    output logic [7:0]  y
);
  logic [31:0]        v_f32, product;
  logic signed [33:0] rounded;
  logic               product_nan;
  logic signed [34:0] sum;

  int32_to_fp32 to_f32 (
      .v(v),
      .y(v_f32)
  );
  fp32_mul_ftz mul (
      .a(v_f32),
      .b(scale),
      .y(product)
  );
  fp32_to_int_rne to_int (
      .x(product),
      .q(rounded),
      .nan(product_nan)
  );

  always_comb begin
    // |rounded| <= 2^32 and |zero_point| <= 2^31, so 35 bits hold the exact sum.
    sum = (product_nan ? 35'sd0 : 35'(rounded)) + 35'($signed(zero_point));
    if (sum > 35'sd127) y = 8'h7F;
    else if (sum < -35'sd128) y = 8'h80;
    else y = sum[7:0];
  end
endmodule
