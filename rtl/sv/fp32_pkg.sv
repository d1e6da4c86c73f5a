// Helpers shared by the fp32 / bf16 arithmetic units (DESIGN.md "Numerics"; the C++ reference is
// isa/src/numerics.cc). Pure combinational functions on IEEE binary32 bit patterns.
//
// Flush-to-zero (FTZ) everywhere: an input or result whose exponent field is zero becomes the zero
// of the same sign. NaN rules are those of x86-64 SSE, which the C++ reference runs on: a NaN
// operand is returned quieted (quiet bit 22 set, sign and payload kept), and an invalid operation
// (Inf - Inf, 0 * Inf) returns the "real indefinite" NaN 0xFFC00000.
package fp32_pkg;
  // x86's default NaN ("real indefinite"). Not every unit uses it.
  /* verilator lint_off UNUSEDPARAM */
  localparam logic [31:0] DEFAULT_NAN = 32'hFFC0_0000;
  /* verilator lint_on UNUSEDPARAM */

  // is_nan / is_inf take the magnitude bits x[30:0] of a binary32 x.
  function automatic logic is_nan(input logic [30:0] mag);
    return (mag[30:23] == 8'hFF) && (mag[22:0] != 23'd0);
  endfunction

  function automatic logic is_inf(input logic [30:0] mag);
    return (mag[30:23] == 8'hFF) && (mag[22:0] == 23'd0);
  endfunction

  // Zero after FTZ (true zeros and subnormals); takes the exponent field x[30:23].
  function automatic logic is_zero_ftz(input logic [7:0] exp_field);
    return exp_field == 8'd0;
  endfunction

  function automatic logic [31:0] ftz(input logic [31:0] x);
    return (x[30:23] == 8'd0) ? {x[31], 31'd0} : x;
  endfunction

  function automatic logic [31:0] quiet(input logic [31:0] x);
    return x | 32'h0040_0000;
  endfunction

  // Leading zeros of a 64-bit vector (64 when x is zero).
  function automatic logic [6:0] lzc64(input logic [63:0] x);
    logic [6:0] n;
    logic       found;
    n     = 7'd64;
    found = 1'b0;
    for (int i = 63; i >= 0; i--) begin
      if (!found && x[i]) begin
        n     = 7'(63 - i);
        found = 1'b1;
      end
    end
    return n;
  endfunction

  // Rounds a finite nonzero value to binary32 (round to nearest even, gradual underflow as IEEE
  // specifies) and then flushes a subnormal result to zero of the same sign.
  //   value = mant * 2^(exp - 127 - 26), mant[26] = 1 (normalised);
  //   mant[25:3] are the fraction bits, mant[2] the guard bit, mant[1] the next bit and mant[0] the
  //   OR of all lower bits (sticky).
  // exp is the biased exponent of the value before rounding and may be out of range either way.
  // Overflow gives ±Inf. Below the normal range only exp == 0 can round up to the smallest normal:
  // on the 2^-149 subnormal grid the kept bits are mant[26:4] and the guard bit is mant[3]; the
  // result carries into 2^-126 exactly when the kept bits are all ones (an odd lsb, so a tie rounds
  // up too) and the guard bit is set. Everything else is subnormal or smaller and flushes to ±0.
  function automatic logic [31:0] round_pack_ftz(input logic sign, input logic signed [10:0] exp,
                                                 input logic [26:0] mant);
    logic [31:0] result;
    logic        round_up;
    logic [30:0] packed_mag;
    round_up   = mant[2] & (mant[3] | mant[1] | mant[0]);
    // A carry out of the fraction increments the exponent field; from 254 it gives exactly the
    // Inf pattern (fraction zero).
    packed_mag = {exp[7:0], mant[25:3]} + {30'd0, round_up};
    if (exp < 11'sd0) begin
      result = {sign, 31'd0};
    end else if (exp == 11'sd0) begin
      result = (mant[26:3] == 24'hFF_FFFF) ? {sign, 8'd1, 23'd0} : {sign, 31'd0};
    end else if (exp >= 11'sd255) begin
      result = {sign, 8'hFF, 23'd0};
    end else begin
      result = {sign, packed_mag};
    end
    return result;
  endfunction
endpackage
