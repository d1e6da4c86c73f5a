// The tpusim core: controller and instruction queues (tpu_ctrl), DMA engines, weight FIFO and shift
// (tpu_weights), systolic array and accumulators (tpu_matrix), vector unit (tpu_vector) and unified
// buffer (tpu_ub). Sizes come from arch_pkg (generated from an ArchConfig), encodings from isa_pkg
// (generated from isa/opcodes.def). Timing: docs/timing.md (weight-stationary), cycle for cycle.
//
// Harness protocol (rtl/src/rtl_engine*.cc). Cycle t ends with rising edge t + 1; `now` is t. With
// rst_n high and run low the core holds (the debug port may load and read the UB and accumulators).
// While run is high:
//  - Instruction port: imem_data must be program[imem_addr] during every cycle.
//  - DMA port: a LOAD (0), LOAD_WEIGHTS (1) or STORE (2) that starts at t raises req_valid[e] during
//    t with its fields. The harness raises dma_release[e] during the cycle the transfer has left
//    the DRAM channel (t_c + X', at least t + 1: timing.md rule 3), which releases its queue, and
//    answers with dma_done[e] = 1 during the cycle the instruction completes (2 when a zero-row
//    transfer completes in the same cycle as the one before it). Several transfers of one engine
//    may be in flight (at most INSTRUCTION_QUEUE_DEPTH); they complete in request order. The harness
//    moves the data in beats of up to UB_BANKS rows, during cycles after t and before the
//    completion, after every earlier transfer of the engine has completed (or in its completion
//    cycle): LOAD and LOAD_WEIGHTS beats carry raw DRAM elements (zero-extended to 32 bits; the
//    core widens and converts them), STORE reads (st_rd_*) return narrowed elements in st_rd_data
//    in the same cycle. The core keeps each in-flight transfer's UB side (index, UB row, lanes,
//    dtype) in a FIFO per engine; a beat belongs to the oldest transfer not completing this cycle.
//  - Observation: ev_* report dispatches, starts, zero-time passes and completions at t; halted rises
//    the cycle after HALT is dispatched; cycles is then the run's cycle count.
module tpu_core
  import isa_pkg::*;
  import core_pkg::*;
#(
    parameter int C     = arch_pkg::ARRAY_COLS,
    parameter int LW    = arch_pkg::UB_LANES,
    parameter int BANKS = arch_pkg::UB_BANKS,
    parameter int AW    = $clog2(arch_pkg::UB_ROWS_INT8),
    parameter int CB    = (arch_pkg::ACC_ENTRIES > 1) ? $clog2(arch_pkg::ACC_ENTRIES) : 1,
    parameter int NB    = $clog2(BANKS + 1)
) (
    input  logic                          clk,
    input  logic                          rst_n,
    input  logic                          run,
    input  logic                          int8,
    output logic [63:0]                   now,
    output logic [31:0]                   imem_addr,
    input  logic [255:0]                  imem_data,
    // DMA requests: [0] LOAD, [1] LOAD_WEIGHTS, [2] STORE.
    output logic [2:0]                    req_valid,
    output logic [2:0][47:0]              req_addr,
    output logic [2:0][15:0]              req_rows,
    output logic [2:0][15:0]              req_cols,     // lanes (LOAD/STORE) or cols (LOAD_WEIGHTS)
    output logic [2:0][31:0]              req_row_stride,
    output logic [2:0][31:0]              req_col_stride,
    output logic [2:0][2:0]               req_dtype,
    input  logic [2:0]                    dma_release,
    input  logic [2:0][1:0]               dma_done,
    input  logic                          ld_beat_valid,
    input  logic [15:0]                   ld_beat_first,
    input  logic [NB-1:0]                 ld_beat_n,
    input  logic [BANKS-1:0][LW-1:0][31:0] ld_beat_data,
    input  logic                          wt_beat_valid,
    input  logic [15:0]                   wt_beat_first,
    input  logic [NB-1:0]                 wt_beat_n,
    input  logic [BANKS-1:0][C-1:0][31:0] wt_beat_data,
    input  logic [15:0]                   st_rd_first,
    output logic [BANKS-1:0][LW-1:0][31:0] st_rd_data,
    // Debug port: sel 0 = UB row, 1 = accumulator row (C words in the low lanes).
    input  logic                          dbg_we,
    input  logic                          dbg_sel,
    input  logic [31:0]                   dbg_row,
    input  logic [LW-1:0][31:0]           dbg_wdata,
    output logic [LW-1:0][31:0]           dbg_rdata,
    // Observation: units [0] load DMA, [1] weight DMA, [2] store DMA, [3] MXU, [4] vector unit.
    output logic                          ev_dispatch,
    output logic [31:0]                   ev_dispatch_idx,
    output logic [2:0][3:0]               ev_passed,
    output logic [2:0][3:0]               ev_sig_done,  // SIGNALs completed, per queue (tpu_ctrl)
    output logic [4:0]                    ev_start,
    output logic [4:0][31:0]              ev_start_idx,
    output logic [4:0]                    ev_done,
    output logic [4:0][31:0]              ev_done_idx,
    output logic [2:0]                    ev_done2,      // a second DMA completion of engine e at t
    output logic [2:0][31:0]              ev_done2_idx,  // (a zero-row transfer, after ev_done_idx)
    output logic                          halted,
    output logic [63:0]                   cycles,
    // Where this cycle goes (docs/timing.md "Where every cycle of the array goes"), the first that
    // applies: 0 active, 1 weight_load_stall, 2 weight_shift, 3 input_stall, 4 non_matrix,
    // 5 sync_wait, 6 idle.
    output logic [2:0]                    bucket,
    output logic                          error
);
  logic [63:0] now_q;
  assign now = now_q;
  always_ff @(posedge clk) begin
    if (!rst_n) now_q <= '0;
    else if (run && !halted) now_q <= now_q + 64'd1;
  end

  // ---- Controller ----------------------------------------------------------------------------------
  logic         start_valid[5];
  logic [255:0] start_instr[5];
  logic [31:0]  start_idx[5];
  logic [7:0]   held;
  logic         shadow_full, done_mxu, done_vec;
  logic [31:0]  mxu_done_idx, vec_done_idx;
  logic [3:0]   passed[3], sig_done[3];
  logic         stall_pop, stall_wait, sync_hold, mxu_active, next_arrived;
  tpu_ctrl u_ctrl (
      .clk            (clk),
      .rst_n          (rst_n),
      .run            (run),
      .now            (now_q),
      .pc             (imem_addr),
      .instr          (imem_data),
      .done_load      (dma_done[0]),
      .done_weight    (dma_done[1]),
      .done_store     (dma_done[2]),
      .done_mxu       (done_mxu),
      .done_vec       (done_vec),
      .rel_load       (dma_release[0]),
      .rel_weight     (dma_release[1]),
      .rel_store      (dma_release[2]),
      .held           (held),
      .shadow_full    (shadow_full),
      .start_valid    (start_valid),
      .start_instr    (start_instr),
      .start_idx      (start_idx),
      .ev_dispatch    (ev_dispatch),
      .ev_dispatch_idx(ev_dispatch_idx),
      .ev_passed      (passed),
      .ev_sig_done    (sig_done),
      .halted         (halted),
      .cycles         (cycles),
      .stall_pop      (stall_pop),
      .stall_wait     (stall_wait),
      .sync_hold      (sync_hold)
  );
  for (genvar q = 0; q < 3; q++) begin : g_passed
    assign ev_passed[q]   = passed[q];
    assign ev_sig_done[q] = sig_done[q];
  end
  for (genvar u = 0; u < 5; u++) begin : g_start
    assign ev_start[u]     = start_valid[u];
    assign ev_start_idx[u] = start_idx[u];
  end

  // ---- DMA engines: requests, in-flight transfers and the UB / FIFO side ---------------------------
  // Per engine, a FIFO of the transfers in flight (started, not completed), oldest at rd_q: at most
  // Q, since each holds an entry of its queue until it completes. A start and completions may
  // happen in the same cycle; `cur` is the oldest transfer not completing now (this cycle's beat).
  localparam int Q  = arch_pkg::INSTRUCTION_QUEUE_DEPTH;
  localparam int QI = (Q > 1) ? $clog2(Q) : 1;
  typedef struct packed {
    logic [31:0]   idx;
    logic [AW-1:0] ub_row;
    logic [15:0]   lanes;
    logic [2:0]    dtype;
  } xfer_t;
  /* verilator lint_off UNUSEDSIGNAL */
  xfer_t         fl_q[3][Q];  // the weight engine's UB fields are unused (tpu_weights keeps its side)
  logic [QI-1:0] rd_q[3], wr_q[3];
  xfer_t         cur[3];
  /* verilator lint_on UNUSEDSIGNAL */
  function automatic logic [QI-1:0] ptr_plus(input logic [QI-1:0] p, input logic [1:0] n);
    return QI'((32'(p) + 32'(n)) % Q);
  endfunction
  for (genvar e = 0; e < 3; e++) begin : g_req
    /* verilator lint_off UNUSEDSIGNAL */
    logic [255:0] i;  // the fields of the DMA formats
    /* verilator lint_on UNUSEDSIGNAL */
    xfer_t x;
    assign i = start_instr[e];
    assign req_valid[e] = start_valid[e];
    if (e == 1) begin : g_weights
      assign req_addr[e]       = i[WEIGHTS_DRAM_ADDR_LSB+:48];
      assign req_rows[e]       = i[WEIGHTS_ROWS_LSB+:16];
      assign req_cols[e]       = i[WEIGHTS_COLS_LSB+:16];
      assign req_row_stride[e] = i[WEIGHTS_ROW_STRIDE_LSB+:32];
      assign req_col_stride[e] = i[WEIGHTS_COL_STRIDE_LSB+:32];
      assign req_dtype[e]      = i[WEIGHTS_DTYPE_LSB+:3];
      assign x = '{idx: start_idx[e], ub_row: '0, lanes: '0, dtype: i[WEIGHTS_DTYPE_LSB+:3]};
    end else begin : g_dma
      assign req_addr[e]       = i[DMA_DRAM_ADDR_LSB+:48];
      assign req_rows[e]       = i[DMA_ROWS_LSB+:16];
      assign req_cols[e]       = i[DMA_LANES_LSB+:16];
      assign req_row_stride[e] = i[DMA_ROW_STRIDE_LSB+:32];
      assign req_col_stride[e] = i[DMA_LANE_STRIDE_LSB+:32];
      assign req_dtype[e]      = i[DMA_DTYPE_LSB+:3];
      assign x = '{idx: start_idx[e], ub_row: AW'(i[DMA_UB_ROW_LSB+:DMA_UB_ROW_WIDTH]),
                   lanes: i[DMA_LANES_LSB+:16], dtype: i[DMA_DTYPE_LSB+:3]};
    end
    always_ff @(posedge clk) begin
      if (!rst_n) begin
        rd_q[e] <= '0;
        wr_q[e] <= '0;
      end else if (run) begin
        if (start_valid[e]) begin
          fl_q[e][wr_q[e]] <= x;
          wr_q[e]          <= ptr_plus(wr_q[e], 2'd1);
        end
        rd_q[e] <= ptr_plus(rd_q[e], dma_done[e]);
      end
    end
    assign cur[e]          = fl_q[e][ptr_plus(rd_q[e], dma_done[e])];
    assign ev_done[e]      = dma_done[e] != 2'd0;
    assign ev_done_idx[e]  = fl_q[e][rd_q[e]].idx;
    assign ev_done2[e]     = dma_done[e] == 2'd2;
    assign ev_done2_idx[e] = fl_q[e][ptr_plus(rd_q[e], 2'd1)].idx;
  end

  // LOAD and STORE: the UB side of the current transfer.
  logic [AW-1:0] ld_ub, st_ub;
  logic [15:0]   ld_lanes;
  logic [2:0]    ld_dtype, st_dtype;
  assign ld_ub    = cur[0].ub_row;
  assign ld_lanes = cur[0].lanes;
  assign ld_dtype = cur[0].dtype;
  assign st_ub    = cur[2].ub_row;
  assign st_dtype = cur[2].dtype;
  logic [BANKS-1:0][LW-1:0][31:0] ld_words, st_words;
  for (genvar b = 0; b < BANKS; b++) begin : g_ld_bank
    for (genvar l = 0; l < LW; l++) begin : g_ld_lane
      assign ld_words[b][l] = (32'(l) < 32'(ld_lanes)) ? widen(ld_dtype, ld_beat_data[b][l]) : '0;
      // STORE: numerics::NarrowFromWord, the element's bits zero-extended.
      logic [15:0] half;
      bf16_round u_round (.x(st_words[b][l]), .y(half));
      always_comb begin
        case (32'(st_dtype))
          DTYPE_BF16: st_rd_data[b][l] = {16'd0, half};
          DTYPE_I8: st_rd_data[b][l] = {24'd0, sat8(st_words[b][l])};
          default: st_rd_data[b][l] = st_words[b][l];
        endcase
      end
    end
  end

  // ---- Weight path, matrix path, vector unit -------------------------------------------------------
  logic               w_valid, shifting, mxu_error;
  logic [C-1:0][15:0] w_row;
  tpu_weights u_weights (
      .clk        (clk),
      .rst_n      (rst_n),
      .run        (run && !halted),
      .int8       (int8),
      .alloc      (start_valid[1]),
      .alloc_dtype(start_instr[1][WEIGHTS_DTYPE_LSB+:3]),
      .beat_valid (wt_beat_valid),
      .beat_first (wt_beat_first),
      .beat_n     (wt_beat_n),
      .beat_data  (wt_beat_data),
      .done       (dma_done[1]),
      .pop        (start_valid[3] && start_instr[3][MATMUL_POP_WEIGHTS_LSB]),
      .shadow_full(shadow_full),
      .held       (held),
      .w_valid    (w_valid),
      .w_row      (w_row),
      .shifting   (shifting),
      .next_arrived(next_arrived)
  );

  logic [AW-1:0]       mxu_ub_row, vec_a_row, vec_b_row, vec_w_row;
  logic [LW-1:0][31:0] mxu_ub_data, vec_a_data, vec_b_data, vec_w_data, ub_dbg_rdata;
  logic                vec_we, vec_busy;
  logic [CB-1:0]       vec_acc_row;
  logic [C-1:0][31:0]  vec_acc_data, acc_dbg_rdata;
  tpu_matrix u_matrix (
      .clk           (clk),
      .rst_n         (rst_n),
      .run           (run && !halted),
      .int8          (int8),
      .start         (start_valid[3]),
      .instr         (start_instr[3]),
      .idx           (start_idx[3]),
      .ub_row        (mxu_ub_row),
      .ub_data       (mxu_ub_data),
      .w_valid       (w_valid),
      .w_row         (w_row),
      .shadow_full   (shadow_full),
      .acc_rrow      (vec_acc_row),
      .acc_rdata     (vec_acc_data),
      .dbg_we        (dbg_we && dbg_sel),
      .dbg_row       (CB'(dbg_row)),
      .dbg_wdata     (dbg_wdata[C-1:0]),
      .dbg_rdata     (acc_dbg_rdata),
      .done          (done_mxu),
      .done_idx      (mxu_done_idx),
      .active        (mxu_active),
      .protocol_error(mxu_error)
  );
  tpu_vector u_vector (
      .clk     (clk),
      .rst_n   (rst_n),
      .run     (run && !halted),
      .int8    (int8),
      .now     (now_q),
      .start   (start_valid[4]),
      .instr   (start_instr[4]),
      .idx     (start_idx[4]),
      .a_row   (vec_a_row),
      .a_data  (vec_a_data),
      .b_row   (vec_b_row),
      .b_data  (vec_b_data),
      .we      (vec_we),
      .w_row   (vec_w_row),
      .w_data  (vec_w_data),
      .acc_row (vec_acc_row),
      .acc_data(vec_acc_data),
      .done    (done_vec),
      .done_idx(vec_done_idx),
      .busy    (vec_busy)
  );
  assign ev_done[3]     = done_mxu;
  assign ev_done_idx[3] = mxu_done_idx;
  assign ev_done[4]     = done_vec;
  assign ev_done_idx[4] = vec_done_idx;
  assign error          = mxu_error;
  always_comb begin
    if (mxu_active) bucket = 3'd0;
    else if (stall_pop) bucket = next_arrived ? 3'd2 : 3'd1;
    else if (stall_wait) bucket = 3'd3;
    else if (vec_busy) bucket = 3'd4;
    else if (sync_hold) bucket = 3'd5;
    else bucket = 3'd6;
  end

  tpu_ub u_ub (
      .clk      (clk),
      .dma_we   (ld_beat_valid),
      .dma_wrow (ld_ub + AW'(ld_beat_first)),
      .dma_wn   (ld_beat_n),
      .dma_wdata(ld_words),
      .dma_rrow (st_ub + AW'(st_rd_first)),
      .dma_rdata(st_words),
      .mxu_rrow (mxu_ub_row),
      .mxu_rdata(mxu_ub_data),
      .vec_arow (vec_a_row),
      .vec_adata(vec_a_data),
      .vec_brow (vec_b_row),
      .vec_bdata(vec_b_data),
      .vec_we   (vec_we),
      .vec_wrow (vec_w_row),
      .vec_wdata(vec_w_data),
      .dbg_we   (dbg_we && !dbg_sel),
      .dbg_row  (AW'(dbg_row)),
      .dbg_wdata(dbg_wdata),
      .dbg_rdata(ub_dbg_rdata)
  );
  always_comb begin
    dbg_rdata = ub_dbg_rdata;
    if (dbg_sel) begin
      dbg_rdata = '0;
      dbg_rdata[C-1:0] = acc_dbg_rdata;
    end
  end

  /* verilator lint_off UNUSEDSIGNAL */
  // Row numbers wider than the UB / accumulators: the functional pre-run checked every row.
  logic unused;
  assign unused = shifting ^ (|ld_beat_first) ^ (|st_rd_first) ^ (|dbg_row);
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
