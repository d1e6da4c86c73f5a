// One processing element (PE) of the weight-stationary array (mxu_array), at array row k, column j.
//
// Datapath, one row of the input matrix per cycle. At each rising edge the PE registers the input
// from the left (x_in with its sideband bank_in / int8_in) and the partial sum from above
// (psum_in); x_out, bank_out and int8_out are those registers (so the row moves one PE right per
// cycle), and psum_out = MAC(registered psum, registered x, weight[bank_out]) is combinational from
// registers only, registered in turn by the PE below (or the de-skew under the array). MAC is
// bf16_mac (int8 = 0: bf16 x bf16 + fp32, numerics::MacBf16) or int8_mac (int8 = 1: int8 x int8 +
// int32 with wrap-around, numerics::MacInt8, on bits [7:0] of x and of the weight; the upper bits
// are ignored).
// Registering at the input rather than the output is the same pipeline, one register per hop; it
// keeps the MAC a function of this PE's own state, which Verilator evaluates once per cycle.
//
// Weights, double-buffered: two 16-bit registers, weight0 and weight1, take turns as the active
// weights (the bank the rows select with bank_in) and the shadow weights (the bank being shifted
// into). The bank select travels with every row (like Gemmini's `propagate` bit), so a swap takes
// effect in this PE exactly when the first row of the new MATMUL reaches it — no array-wide swap.
//
// Weight shift, down the column: while shift_en (column-wide, skewed per column by mxu_array) and
// armed_in (the PE above already holds a word of the tile being shifted; the top row ties it to 1),
// weight[shift_bank] <= w_in, the word of the PE above (w_out is weight[shift_bank], for the PE
// below). So a PE starts overwriting its shadow register only when the tile's first word reaches
// it, never while the previous wavefront may still read that register. armed clears when the tile's
// last step (shift_last) shifts the column. Reset (rst_n low) clears only `armed`.
module mxu_pe (
    input  logic        clk,
    input  logic        rst_n,
    input  logic [15:0] x_in,
    input  logic        bank_in,
    input  logic        int8_in,
    output logic [15:0] x_out,
    output logic        bank_out,
    output logic        int8_out,
    input  logic [31:0] psum_in,
    output logic [31:0] psum_out,
    input  logic        shift_en,
    input  logic        shift_last,
    input  logic        shift_bank,
    input  logic        armed_in,
    input  logic [15:0] w_in,
    output logic        armed_out,
    output logic [15:0] w_out
);
  /*verilator no_inline_module*/  // each PE keeps its own C++ functions, at any array size

  logic [15:0] weight0, weight1;
  logic [15:0] active;
  logic        armed;
  logic        shifts;
  logic [31:0] psum_q, bf16_y, int8_y;

  assign active    = bank_out ? weight1 : weight0;
  assign shifts    = shift_en & armed_in;
  assign w_out     = shift_bank ? weight1 : weight0;
  assign armed_out = armed;
  assign psum_out  = int8_out ? int8_y : bf16_y;

  bf16_mac u_bf16_mac (
      .psum(psum_q),
      .a   (x_out),
      .b   (active),
      .y   (bf16_y)
  );
  int8_mac u_int8_mac (
      .acc(psum_q),
      .a  (x_out[7:0]),
      .b  (active[7:0]),
      .y  (int8_y)
  );

  always_ff @(posedge clk) begin
    x_out    <= x_in;
    bank_out <= bank_in;
    int8_out <= int8_in;
    psum_q   <= psum_in;
    if (shifts && shift_bank) weight1 <= w_in;
    if (shifts && !shift_bank) weight0 <= w_in;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) armed <= 1'b0;
    else if (shift_en && shift_last) armed <= 1'b0;
    else armed <= armed | shifts;
  end
endmodule
