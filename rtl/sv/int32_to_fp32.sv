// int32 -> fp32, round to nearest even (C++ static_cast<float>(int32_t), cvtsi2ss). Every result is
// normal or zero; 0 gives +0. Combinational.
module int32_to_fp32 (
    input  logic [31:0] v,
    output logic [31:0] y
);
  import fp32_pkg::*;

  logic        sign;
  logic [31:0] magnitude;  // |v|; 2^31 for v = -2^31
  logic [6:0]  lz;
  logic [31:0] norm;

  always_comb begin
    sign      = v[31];
    magnitude = sign ? (~v + 32'd1) : v;
    lz        = lzc64({magnitude, 32'd0});
    norm      = magnitude << lz[4:0];
    // Leading one at bit 31 of norm: the value is 1.f * 2^(31 - lz), biased exponent 158 - lz.
    if (magnitude == 32'd0) y = 32'd0;
    else y = round_pack_ftz(sign, 11'sd158 - 11'(lz), {norm[31:6], |norm[5:0]});
  end
endmodule
