// fp32 bits -> bf16 bits: numerics::F32ToBf16Bits(x), bit for bit. A subnormal input is flushed to
// zero of the same sign; the 16 dropped bits round to nearest even (a carry bumps the exponent, and
// the largest finite values round to ±Inf); a NaN keeps its sign and top payload bits and gets the
// quiet bit (0x0040); a subnormal result (impossible after the input flush, kept as the reference
// states it) is flushed. Combinational.
module bf16_round (
    input  logic [31:0] x,
    output logic [15:0] y
);
  import fp32_pkg::*;

  logic [31:0] flushed;
  logic        round_up;
  logic [15:0] rounded;  // cannot wrap for a non-NaN input

  always_comb begin
    flushed  = ftz(x);
    // The reference's (u + 0x7FFF + lsb) >> 16: guard bit 15, sticky bits 14..0, lsb bit 16.
    round_up = flushed[15] & (flushed[16] | (|flushed[14:0]));
    rounded  = flushed[31:16] + {15'd0, round_up};
    if (is_nan(x[30:0])) y = flushed[31:16] | 16'h0040;
    else if (rounded[14:7] == 8'd0 && rounded[6:0] != 7'd0) y = {rounded[15], 15'd0};
    else y = rounded;
  end
endmodule
