// The vector unit (docs/timing.md rule 6): ACTIVATE (accumulator rows -> func -> UB rows) and VECTOR
// (UB rows -> op -> UB rows). An instruction of `rows` rows that starts at s takes
// ceil(rows x LW / V) cycles (V = vector_lanes; rtl::CheckRtlArch requires V <= LW, so that is at
// least `rows`): row r is read, computed by LW vpu_lanes and written in cycle s + r, and the
// instruction completes at s + ceil(rows x LW / V). A broadcast b row and the ACTIVATE bias row are
// read at s and held, so a destination range that covers them does not change them (the functional
// engine reads every source before writing); an in-place op (dst = a) reads each row in the cycle
// it overwrites it. A reduce folds rows 0 .. rows-1 in order from the first row's value and writes
// one row in cycle s + rows - 1. Destinations that overlap a source shifted forwards are refused
// before a run (rtl::CheckRtlSupport), as are zero-row instructions.
module tpu_vector
  import isa_pkg::*;
#(
    parameter int LW = arch_pkg::UB_LANES,
    parameter int C  = arch_pkg::ARRAY_COLS,
    parameter int V  = arch_pkg::VECTOR_LANES,
    parameter int AW = $clog2(arch_pkg::UB_ROWS_INT8),
    parameter int CB = (arch_pkg::ACC_ENTRIES > 1) ? $clog2(arch_pkg::ACC_ENTRIES) : 1
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic                run,
    input  logic                int8,
    input  logic [63:0]         now,
    input  logic                start,
    input  logic [255:0]        instr,
    input  logic [31:0]         idx,
    output logic [AW-1:0]       a_row,
    input  logic [LW-1:0][31:0] a_data,
    output logic [AW-1:0]       b_row,
    input  logic [LW-1:0][31:0] b_data,
    output logic                we,
    output logic [AW-1:0]       w_row,
    output logic [LW-1:0][31:0] w_data,
    output logic [CB-1:0]       acc_row,
    input  logic [C-1:0][31:0]  acc_data,
    output logic                done,
    output logic [31:0]         done_idx,
    output logic                busy       // an instruction is in [s, c)
);
  // ---- Registered instruction state ------------------------------------------------------------
  logic                busy_q, act_q, bias_q, bcast_q, reduce_q;
  logic [63:0]         done_at_q;
  logic [31:0]         idx_q, imm_q;
  logic [7:0]          zp_q;
  logic [3:0]          func_q;
  logic [5:0]          op_q;
  logic [15:0]         rows_q, r_q;
  logic [AW-1:0]       a_q, b_q, dst_q;
  logic [CB-1:0]       accb_q;
  logic [LW-1:0][31:0] held_q, fold_q;  // the held b / bias row; a reduce's fold so far

  // ---- This cycle's instruction and row ----------------------------------------------------------
  logic                act, has_bias, bcast, reduce, active;
  logic [3:0]          func;
  logic [5:0]          op;
  logic [31:0]         imm;
  logic [7:0]          zp;
  logic [15:0]         rows, r;
  logic [AW-1:0]       a_base, b_base, dst;
  logic [CB-1:0]       acc_base;
  logic [LW-1:0][31:0] b_val, lane_a, lane_b, lane_y;
  always_comb begin
    if (start) begin
      act      = instr[7:0] == OP_ACTIVATE;
      func     = instr[ACTIVATE_FUNC_LSB+:4];
      has_bias = act && instr[ACTIVATE_HAS_BIAS_LSB];
      op       = instr[VECTOR_OP_LSB+:6];
      bcast    = instr[VECTOR_B_BCAST_LSB];
      reduce   = !act && instr[VECTOR_OP_LSB+4+:2] == 2'b11;  // Reduce codes are 48-63
      imm      = act ? instr[ACTIVATE_SCALE_LSB+:32] : instr[VECTOR_IMM_LSB+:32];
      zp       = instr[ACTIVATE_ZERO_POINT_LSB+:8];
      rows     = act ? instr[ACTIVATE_ROWS_LSB+:16] : instr[VECTOR_ROWS_LSB+:16];
      a_base   = AW'(instr[VECTOR_A_ROW_LSB+:VECTOR_A_ROW_WIDTH]);
      b_base   = act ? AW'(instr[ACTIVATE_BIAS_ROW_LSB+:ACTIVATE_BIAS_ROW_WIDTH])
                     : AW'(instr[VECTOR_B_ROW_LSB+:VECTOR_B_ROW_WIDTH]);
      dst      = act ? AW'(instr[ACTIVATE_UB_ROW_LSB+:ACTIVATE_UB_ROW_WIDTH])
                     : AW'(instr[VECTOR_DST_ROW_LSB+:VECTOR_DST_ROW_WIDTH]);
      acc_base = CB'(instr[ACTIVATE_ACC_ROW_LSB+:ACTIVATE_ACC_ROW_WIDTH]);
      r        = '0;
    end else begin
      act      = act_q;
      func     = func_q;
      has_bias = bias_q;
      op       = op_q;
      bcast    = bcast_q;
      reduce   = reduce_q;
      imm      = imm_q;
      zp       = zp_q;
      rows     = rows_q;
      a_base   = a_q;
      b_base   = b_q;
      dst      = dst_q;
      acc_base = accb_q;
      r        = r_q;
    end
    active  = run && (start || (busy_q && r_q < rows_q));
    a_row   = a_base + AW'(r);
    acc_row = acc_base + CB'(r);
    // The b / bias row: read at s when it is held (bias, broadcast), else row b + r.
    b_row   = (act || bcast) ? b_base : b_base + AW'(r);
  end

  // Data (a separate block: the row addresses above must not depend on the data read with them).
  always_comb begin
    b_val = (r != 16'd0 && (act || bcast)) ? held_q : b_data;
    for (int l = 0; l < LW; l++) begin
      lane_a[l] = act ? (l < C ? acc_data[l % C] : 32'd0) : reduce ? fold_q[l] : a_data[l];
      lane_b[l] = reduce ? a_data[l] : b_val[l];
    end
  end

  for (genvar l = 0; l < LW; l++) begin : g_lane
    vpu_lane u_lane (
        .activate(act),
        .int8    (int8),
        .func    (func),
        .has_bias(has_bias),
        .op      (op),
        .a       (lane_a[l]),
        .b       (lane_b[l]),
        .imm       (imm),
        .zero_point(zp),
        .y         (lane_y[l])
    );
  end

  // ---- Writes ------------------------------------------------------------------------------------
  logic [LW-1:0][31:0] fold_next;
  always_comb begin
    fold_next = (r == 16'd0) ? a_data : lane_y;  // the fold starts from the first row's value
    we        = active && (!reduce || r == rows - 16'd1);
    w_row     = reduce ? dst : dst + AW'(r);
    w_data    = reduce ? fold_next : lane_y;
    if (act) for (int l = C; l < LW; l++) w_data[l] = 32'd0;
  end

  assign done     = busy_q && now == done_at_q;
  assign done_idx = idx_q;
  assign busy     = run && (start || (busy_q && !done));

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy_q <= 1'b0;
      r_q    <= '0;
      rows_q <= '0;
    end else if (run) begin
      if (done) busy_q <= 1'b0;
      if (start) begin
        busy_q    <= 1'b1;
        done_at_q <= now + (64'(rows) * 64'(LW) + 64'(V) - 64'd1) / 64'(V);
        idx_q     <= idx;
        act_q     <= act;
        func_q    <= func;
        bias_q    <= has_bias;
        op_q      <= op;
        bcast_q   <= bcast;
        reduce_q  <= reduce;
        imm_q     <= imm;
        zp_q      <= zp;
        rows_q    <= rows;
        a_q       <= a_base;
        b_q       <= b_base;
        dst_q     <= dst;
        accb_q    <= acc_base;
        held_q    <= b_data;
      end
      if (active) begin
        r_q    <= r + 16'd1;
        fold_q <= fold_next;
      end
    end
  end
endmodule
