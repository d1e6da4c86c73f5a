// Element conversions of the core's DMA paths and small fp32 helpers (numerics::WidenToWord,
// SaturateInt8, MaxF32 / MinF32 ordering; isa/src/numerics.cc is the reference). Combinational
// functions on bit patterns; the bf16 rounding itself is the bf16_round unit.
package core_pkg;
  import isa_pkg::*;

  // numerics::WidenToWord: the DRAM element `raw` (zero-extended to 32 bits) as a UB word.
  // f32 / i32: the same bits; bf16: fp32 bits, a subnormal bf16 flushed to zero of its sign;
  // i8: sign-extended.
  function automatic logic [31:0] widen(input logic [2:0] dtype, input logic [31:0] raw);
    case (32'(dtype))
      DTYPE_BF16: return (raw[14:7] == 8'd0) ? {raw[15], 31'd0} : {raw[15:0], 16'd0};
      DTYPE_I8: return {{24{raw[7]}}, raw[7:0]};
      default: return raw;
    endcase
  endfunction

  // numerics::SaturateInt8 of a 32-bit word read as int32.
  function automatic logic [7:0] sat8(input logic [31:0] w);
    if ($signed(w) < -32'sd128) return 8'h80;
    if ($signed(w) > 32'sd127) return 8'h7F;
    return w[7:0];
  endfunction

  // A total order on non-NaN binary32 values in which -0 < +0 (numerics::MaxF32 / MinF32 pick +0
  // over -0): compare keys as unsigned.
  function automatic logic [31:0] order_key(input logic [31:0] x);
    return x[31] ? ~x : {1'b1, x[30:0]};
  endfunction

  /* verilator lint_off UNUSEDSIGNAL */
  function automatic logic is_nan32(input logic [31:0] x);
    return (x[30:23] == 8'hFF) && (x[22:0] != 23'd0);
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */
endpackage
