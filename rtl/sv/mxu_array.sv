// The weight-stationary systolic array (matrix unit, MXU): ROWS x COLS mxu_pe, clocked on the
// rising edge of clk, synchronous active-low reset. Timing contract: docs/timing.md rules 4 and 5.
// ROWS and COLS have no defaults: the core passes arch_pkg's ARRAY_ROWS / ARRAY_COLS (see
// mxu_lint_top), the Verilated test models get them with -G from the preset (rtl/CMakeLists.txt).
//
// Cycle t is the cycle that ends with rising edge t + 1; inputs are sampled at that edge. No output
// depends combinationally on an input: what the outputs show during cycle t was decided by edge t.
//
// Input rows (rule 5). A MATMUL that starts at s presents its row r (r = 0 .. B - 1) on in_x
// during cycle s + r with in_valid = 1; element k of the row (x[k], the reduction index) feeds
// array row k.
// The left-edge skew delays element k by k cycles and each PE registers its inputs, so PE (k, j)
// does its MAC for row r in cycle s + r + k + j + 1 and psum flows down column j:
// out[j] = ColumnDot(x, W[.][j]) in the order numerics::ColumnDotBf16 / ColumnDotInt8 define (row 0
// first, from +0.0 / 0). in_int8 picks the MAC of the row (int8 mode reads bits [7:0] of x and of
// the weights). in_tag rides along unchanged, for the accumulators. Rows need not be contiguous: an
// in_valid = 0 cycle is a bubble.
//
// Results. Column j of row r leaves the bottom PE in cycle s + r + R + j; the de-skew below the
// array delays column j by C - 1 - j cycles, so the whole result row r is on out_sum (with
// out_valid = 1 and out_tag = its in_tag) during cycle s + r + R + C - 1 — R + C - 1 cycles after
// it entered, the natural pipeline (one register per PE hop plus the skews), no registers added or
// removed. For a MATMUL of B contiguous rows the last result row is there in cycle
// s + B + R + C - 2: rule 5's completion c. (The accumulators, which are not part of this unit,
// take it from out_sum during c.)
//
// Weights (rule 4). A tile W (R x C, row-major) shifts into the shadow weights over R cycles: step
// q = 0 .. R - 1 presents tile row R - 1 - q on w_row with w_valid = 1 (steps may have gaps). It
// enters the top of each column skewed like the data (column j j cycles later) and shifts down the
// column; a PE starts shifting only once the tile's first word has reached it. shadow_full rises
// the cycle after the last step. A MATMUL's first row with in_swap = 1 pops the shadow weights: it
// and every later row select the other weight bank, and that bank select travels with each row, so
// the swap reaches each PE with the first row of the new MATMUL. Rows before it (possibly still in
// the array) keep the old bank; a shift started at the pop (or later) writes the old bank behind
// the old rows' wavefront, so MATMULs run back to back with no bubble. Swapping needs shadow_full;
// a step needs shadow weights that are not full (or popped in the same cycle). A violation of
// either sets protocol_error (sticky until reset) and its effect is undefined.
module mxu_array #(
    parameter int ROWS,  // array_rows: no default, the size always comes from an ArchConfig
    parameter int COLS,  // array_cols
    parameter int TAG_BITS = 16
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic                      in_valid,
    input  logic                      in_swap,
    input  logic                      in_int8,
    input  logic [TAG_BITS-1:0]       in_tag,
    input  logic [ROWS-1:0][15:0]     in_x,
    input  logic                      w_valid,
    input  logic [COLS-1:0][15:0]     w_row,
    output logic                      shadow_full,
    output logic                      out_valid,
    output logic [TAG_BITS-1:0]       out_tag,
    output logic [COLS-1:0][31:0]     out_sum,
    output logic                      protocol_error
);
  localparam int STEP_BITS = $clog2(ROWS + 1);
  localparam int LATENCY = ROWS + COLS - 1;  // in_x to out_sum, in cycles

  // ---- Control at the edge: weight banks and shift steps ---------------------------------------
  logic                 active_bank;  // the bank of the newest row fed
  logic                 pop, row_bank, shift_bank, shift_last;
  logic [STEP_BITS-1:0] shift_steps;  // steps of the tile now shifting, done so far

  assign pop        = in_valid & in_swap;
  assign row_bank   = active_bank ^ pop;
  assign shift_bank = ~row_bank;  // the bank no row fed from now on reads until the next pop
  assign shift_last = shift_steps == STEP_BITS'(ROWS - 1);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      active_bank    <= 1'b0;
      shift_steps    <= '0;
      shadow_full    <= 1'b0;
      protocol_error <= 1'b0;
    end else begin
      active_bank <= row_bank;
      if (w_valid) shift_steps <= shift_last ? '0 : shift_steps + 1'b1;
      shadow_full    <= (shadow_full & ~pop) | (w_valid & shift_last);
      protocol_error <= protocol_error | (pop & ~shadow_full) | (w_valid & shadow_full & ~pop);
    end
  end

  // ---- Edge skews ------------------------------------------------------------------------------
  logic [ROWS-1:0][17:0] left_d, left_q;  // {x, bank, int8} per array row
  logic [COLS-1:0][18:0] top_d, top_q;    // {shift_en, shift_last, shift_bank, word} per column
  for (genvar k = 0; k < ROWS; k++) begin : g_left
    assign left_d[k] = {in_x[k], row_bank, in_int8};
  end
  for (genvar j = 0; j < COLS; j++) begin : g_top
    assign top_d[j] = {w_valid, shift_last, shift_bank, w_row[j]};
  end
  mxu_skew #(
      .LANES(ROWS),
      .WIDTH(18)
  ) u_left_skew (
      .clk  (clk),
      .rst_n(rst_n),
      .d    (left_d),
      .q    (left_q)
  );
  mxu_skew #(
      .LANES(COLS),
      .WIDTH(19)
  ) u_top_skew (
      .clk  (clk),
      .rst_n(rst_n),
      .d    (top_d),
      .q    (top_q)
  );

  // ---- The PE grid -----------------------------------------------------------------------------
  // Column COLS of the row wires and row ROWS of the weight wires leave the array unused.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [15:0] x_w[ROWS][COLS+1];
  logic        bank_w[ROWS][COLS+1];
  logic        int8_w[ROWS][COLS+1];
  logic [15:0] w_w[ROWS+1][COLS];
  logic        armed_w[ROWS+1][COLS];
  /* verilator lint_on UNUSEDSIGNAL */
  logic [31:0] psum_w[ROWS+1][COLS];
  logic [COLS-1:0][31:0] bottom;

  for (genvar k = 0; k < ROWS; k++) begin : g_row
    assign x_w[k][0]    = left_q[k][17:2];
    assign bank_w[k][0] = left_q[k][1];
    assign int8_w[k][0] = left_q[k][0];
  end
  for (genvar j = 0; j < COLS; j++) begin : g_col
    assign psum_w[0][j]  = 32'd0;  // +0.0 in bf16 mode, 0 in int8 mode
    assign w_w[0][j]     = top_q[j][15:0];
    assign armed_w[0][j] = 1'b1;
    assign bottom[j]     = psum_w[ROWS][j];
  end

  for (genvar k = 0; k < ROWS; k++) begin : g_pe_row
    for (genvar j = 0; j < COLS; j++) begin : g_pe
      mxu_pe u_pe (
          .clk       (clk),
          .rst_n     (rst_n),
          .x_in      (x_w[k][j]),
          .bank_in   (bank_w[k][j]),
          .int8_in   (int8_w[k][j]),
          .x_out     (x_w[k][j+1]),
          .bank_out  (bank_w[k][j+1]),
          .int8_out  (int8_w[k][j+1]),
          .psum_in   (psum_w[k][j]),
          .psum_out  (psum_w[k+1][j]),
          .shift_en  (top_q[j][18]),
          .shift_last(top_q[j][17]),
          .shift_bank(top_q[j][16]),
          .armed_in  (armed_w[k][j]),
          .w_in      (w_w[k][j]),
          .armed_out (armed_w[k+1][j]),
          .w_out     (w_w[k+1][j])
      );
    end
  end

  // ---- Output de-skew and the row sideband -----------------------------------------------------
  mxu_skew #(
      .LANES  (COLS),
      .WIDTH  (32),
      .REVERSE(1'b1)
  ) u_deskew (
      .clk  (clk),
      .rst_n(rst_n),
      .d    (bottom),
      .q    (out_sum)
  );

  logic [TAG_BITS:0] sideband;  // {valid, tag}, in_x to out_sum
  mxu_delay #(
      .DEPTH(LATENCY),
      .WIDTH(TAG_BITS + 1)
  ) u_sideband (
      .clk  (clk),
      .rst_n(rst_n),
      .d    ({in_valid, in_tag}),
      .q    (sideband)
  );
  assign out_valid = sideband[TAG_BITS];
  assign out_tag   = sideband[TAG_BITS-1:0];
endmodule
