// The matrix path (docs/timing.md rule 5): the feeder that streams a MATMUL's UB rows into the
// systolic array (mxu_array), and the accumulators below it.
//
// A MATMUL that starts at s presents input row r (UB row ub_row + r, converted to the array's type:
// numerics::RoundToBf16 as bf16 bits, or SaturateInt8) in cycle s + r; the first row pops the shadow
// weights when pop_weights is set. Each row carries a tag {instruction, last, accumulate, acc row}
// through the array. Result row r is on the array's output in cycle s + r + R + C - 1; the
// accumulators take it at the end of that cycle: ACC[row] = accumulate ? AddF32(ACC[row], s) (int8:
// wrap-around add) : s. The MATMUL completes in the cycle its last row is there,
// s + B + R + C - 2, and a read of that row in that cycle (an ACTIVATE starting then) sees the new
// value (forwarding). Zero-row MATMULs never reach the core (rtl::CheckRtlSupport).
module tpu_matrix
  import isa_pkg::*;
  import core_pkg::*;
#(
    parameter int R   = arch_pkg::ARRAY_ROWS,
    parameter int C   = arch_pkg::ARRAY_COLS,
    parameter int LW  = arch_pkg::UB_LANES,
    parameter int ACC = arch_pkg::ACC_ENTRIES,
    parameter int AW  = $clog2(arch_pkg::UB_ROWS_INT8),
    parameter int CB  = (ACC > 1) ? $clog2(ACC) : 1
) (
    input  logic                 clk,
    input  logic                 rst_n,
    input  logic                 run,
    input  logic                 int8,
    input  logic                 start,
    input  logic [255:0]         instr,
    input  logic [31:0]          idx,
    output logic [AW-1:0]        ub_row,
    input  logic [LW-1:0][31:0]  ub_data,
    input  logic                 w_valid,
    input  logic [C-1:0][15:0]   w_row,
    output logic                 shadow_full,
    input  logic [CB-1:0]        acc_rrow,
    output logic [C-1:0][31:0]   acc_rdata,
    input  logic                 dbg_we,
    input  logic [CB-1:0]        dbg_row,
    input  logic [C-1:0][31:0]   dbg_wdata,
    output logic [C-1:0][31:0]   dbg_rdata,
    output logic                 done,
    output logic [31:0]          done_idx,
    output logic                 active,    // a MATMUL is in [s, c): rows feeding or in the array
    output logic                 protocol_error
);
  localparam int TAGW = 32 + 1 + 1 + CB;

  // ---- Feeder ------------------------------------------------------------------------------------
  logic [15:0]   left_q;
  logic [AW-1:0] ub_q;
  logic [CB-1:0] acc_q;
  logic          accum_q;
  logic [31:0]   idx_q;

  logic          feeding, in_valid, in_swap, last, accum;
  logic [CB-1:0] acc_row;
  logic [31:0]   row_idx;
  logic [15:0]   rows;
  always_comb begin
    feeding = left_q != 16'd0;
    rows    = instr[MATMUL_ROWS_LSB+:16];
    in_valid = run && (start || feeding);
    in_swap  = start && instr[MATMUL_POP_WEIGHTS_LSB];
    if (start) begin
      ub_row  = AW'(instr[MATMUL_UB_ROW_LSB+:MATMUL_UB_ROW_WIDTH]);
      acc_row = CB'(instr[MATMUL_ACC_ROW_LSB+:MATMUL_ACC_ROW_WIDTH]);
      accum   = instr[MATMUL_ACCUMULATE_LSB];
      row_idx = idx;
      last    = rows == 16'd1;
    end else begin
      ub_row  = ub_q;
      acc_row = acc_q;
      accum   = accum_q;
      row_idx = idx_q;
      last    = left_q == 16'd1;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      left_q <= '0;
    end else if (run && in_valid) begin
      left_q  <= start ? rows - 16'd1 : left_q - 16'd1;
      ub_q    <= ub_row + 1'b1;
      acc_q   <= acc_row + 1'b1;
      accum_q <= accum;
      idx_q   <= row_idx;
    end
  end

  // UB words into the array's type, for the R array rows.
  logic [R-1:0][15:0] x;
  for (genvar k = 0; k < R; k++) begin : g_in
    logic [15:0] rounded;
    bf16_round u_round (.x(ub_data[k]), .y(rounded));
    assign x[k] = int8 ? {8'd0, sat8(ub_data[k])} : rounded;
  end

  // ---- The array ---------------------------------------------------------------------------------
  logic                 out_valid;
  logic [TAGW-1:0]      out_tag;
  logic [C-1:0][31:0]   out_sum;
  mxu_array #(
      .ROWS    (R),
      .COLS    (C),
      .TAG_BITS(TAGW)
  ) u_array (
      .clk           (clk),
      .rst_n         (rst_n),
      .in_valid      (in_valid),
      .in_swap       (in_swap),
      .in_int8       (int8),
      .in_tag        ({row_idx, last, accum, acc_row}),
      .in_x          (x),
      .w_valid       (w_valid && run),
      .w_row         (w_row),
      .shadow_full   (shadow_full),
      .out_valid     (out_valid),
      .out_tag       (out_tag),
      .out_sum       (out_sum),
      .protocol_error(protocol_error)
  );

  // ---- Accumulators ------------------------------------------------------------------------------
  logic [C-1:0][31:0] acc[ACC];
  logic [CB-1:0]      wr_row;
  logic               wr_accum;
  logic [C-1:0][31:0] old, added, result;
  assign wr_row   = out_tag[CB-1:0];
  assign wr_accum = out_tag[CB];
  assign old      = acc[wr_row];
  for (genvar c = 0; c < C; c++) begin : g_acc
    fp32_add_ftz u_add (.a(old[c]), .b(out_sum[c]), .y(added[c]));
    assign result[c] = !wr_accum ? out_sum[c] : int8 ? old[c] + out_sum[c] : added[c];
  end
  assign done     = out_valid && out_tag[CB+1];

  // Rows fed and not yet out of the array; a row leaving in this cycle no longer counts.
  logic [31:0] in_array_q;
  always_ff @(posedge clk) begin
    if (!rst_n) in_array_q <= '0;
    else in_array_q <= in_array_q + 32'(in_valid) - 32'(out_valid);
  end
  assign active = in_valid || (in_array_q - 32'(out_valid)) != 32'd0;
  assign done_idx = out_tag[TAGW-1-:32];

  always_ff @(posedge clk) begin
    if (out_valid) acc[wr_row] <= result;
    if (dbg_we) acc[dbg_row] <= dbg_wdata;
  end
  assign acc_rdata = (out_valid && wr_row == acc_rrow) ? result : acc[acc_rrow];
  assign dbg_rdata = acc[dbg_row];
endmodule
