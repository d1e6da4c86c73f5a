// The weight path (docs/timing.md rule 4): the weight FIFO of F tile slots and the sequencer that
// shifts the head tile into the array's shadow weights over R cycles.
//
// A tile is held from the start of its LOAD_WEIGHTS (alloc: a slot is reserved and its rows cleared)
// until a MATMUL pops it (pop); `held` counts those, and tpu_ctrl starts a LOAD_WEIGHTS only while
// held < F. The DMA port's beats write tile rows into the reserved slot, converted to the array's
// type (float mode: numerics::F32ToBf16Bits of the widened element; int8 mode: SaturateInt8), rows
// the instruction does not cover stay 0. The tile enters the FIFO when its LOAD_WEIGHTS completes
// (done). Several LOAD_WEIGHTS may be in flight (timing.md rule 3): they complete in allocation
// order, and a tile's beats come after every earlier tile has arrived, so the beats go to the slot
// of the oldest tile not yet arrived (after this cycle's arrivals). The head tile starts shifting in the cycle it is in the FIFO and the shadow weights are
// empty (they empty in the cycle a MATMUL pops them): step q (q = 0 .. R-1) presents tile row
// R - 1 - q on w_row (mxu_array's protocol), so the shadow weights are full R cycles later.
// Slots are used in allocation order, which is arrival, shift and pop order.
module tpu_weights
  import core_pkg::*;
#(
    parameter int R     = arch_pkg::ARRAY_ROWS,
    parameter int C     = arch_pkg::ARRAY_COLS,
    parameter int F     = arch_pkg::WEIGHT_FIFO_DEPTH,
    parameter int BANKS = arch_pkg::UB_BANKS
) (
    input  logic                          clk,
    input  logic                          rst_n,
    input  logic                          run,
    input  logic                          int8,
    input  logic                          alloc,      // a LOAD_WEIGHTS starts
    input  logic [2:0]                    alloc_dtype,
    input  logic                          beat_valid,
    input  logic [15:0]                   beat_first,  // tile row of the beat's first row
    input  logic [$clog2(BANKS+1)-1:0]    beat_n,
    input  logic [BANKS-1:0][C-1:0][31:0] beat_data,   // raw DRAM elements, zero-extended
    input  logic [1:0]                    done,       // LOAD_WEIGHTS completing now: their tiles arrive
    input  logic                          pop,        // a pop_weights MATMUL starts
    input  logic                          shadow_full,
    output logic [7:0]                    held,
    output logic                          w_valid,
    output logic [C-1:0][15:0]            w_row,
    output logic                          shifting,   // a shift is in progress
    output logic                          next_arrived // the next tile to pop is in the FIFO or beyond
);
  localparam int SB = (F > 1) ? $clog2(F) : 1;
  localparam int RB = (R > 1) ? $clog2(R) : 1;

  logic [C-1:0][15:0] tile[F][R];
  logic [R-1:0]       row_ok[F];   // rows written by the current LOAD_WEIGHTS (others read as 0)
  logic [SB-1:0]      tail_q, shift_ptr_q, arrive_ptr_q, shift_slot_q;  // arrive_ptr_q: next to arrive
  logic [7:0]         held_q, arrived_q;  // arrived_q: tiles in the FIFO not yet shifting
  logic [2:0]         dtype_q[F];         // per slot: the dtype of its LOAD_WEIGHTS
  logic [SB-1:0]      wr_slot;            // the slot this cycle's beat writes
  logic               shifting_q;
  logic [RB-1:0]      step_q;

  // ---- Beat conversion ------------------------------------------------------------------------
  logic [BANKS-1:0][C-1:0][15:0] conv;
  logic [BANKS-1:0][C-1:0][15:0] rounded;
  for (genvar b = 0; b < BANKS; b++) begin : g_bank
    for (genvar c = 0; c < C; c++) begin : g_col
      logic [31:0] word;
      logic [7:0]  sat;
      assign word  = widen(dtype_q[wr_slot], beat_data[b][c]);
      assign sat = sat8(word);
      bf16_round u_round (.x(word), .y(rounded[b][c]));
      assign conv[b][c] = int8 ? {{8{sat[7]}}, sat} : rounded[b][c];
    end
  end

  // ---- Shift sequencing at `now` ---------------------------------------------------------------
  logic [7:0]    arrived_now;
  logic          start_shift, last_step;
  logic [SB-1:0] slot_now;
  logic [RB-1:0] step_now;
  always_comb begin
    wr_slot     = SB'((32'(arrive_ptr_q) + 32'(done)) % F);
    arrived_now = arrived_q + 8'(done);
    start_shift = run && !shifting_q && (!shadow_full || pop) && arrived_now != 8'd0;
    w_valid     = start_shift || shifting_q;
    slot_now    = start_shift ? shift_ptr_q : shift_slot_q;
    step_now    = start_shift ? '0 : step_q;
    last_step   = 32'(step_now) == R - 1;
    w_row       = row_ok[slot_now][RB'(R - 1 - 32'(step_now))] ?
                  tile[slot_now][RB'(R - 1 - 32'(step_now))] : '0;
  end
  assign held     = held_q;
  assign next_arrived = shadow_full || shifting_q || arrived_now != 8'd0;
  assign shifting = shifting_q;

  function automatic logic [SB-1:0] next_slot(input logic [SB-1:0] s);
    return SB'((32'(s) + 1) % F);
  endfunction

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      tail_q       <= '0;
      shift_ptr_q  <= '0;
      arrive_ptr_q <= '0;
      shift_slot_q <= '0;
      held_q       <= '0;
      arrived_q    <= '0;
      shifting_q   <= 1'b0;
      step_q       <= '0;
      for (int s = 0; s < F; s++) begin
        row_ok[s]  <= '0;
        dtype_q[s] <= '0;
      end
    end else if (run) begin
      held_q    <= held_q + 8'(alloc) - 8'(pop);
      arrived_q <= arrived_now - 8'(start_shift);
      arrive_ptr_q <= wr_slot;
      if (alloc) begin
        tail_q          <= next_slot(tail_q);
        dtype_q[tail_q] <= alloc_dtype;
        row_ok[tail_q]  <= '0;
      end
      if (beat_valid) begin
        for (int b = 0; b < BANKS; b++) begin
          if (b < 32'(beat_n)) begin
            tile[wr_slot][RB'(32'(beat_first) + b)]   <= conv[b];
            row_ok[wr_slot][RB'(32'(beat_first) + b)] <= 1'b1;
          end
        end
      end
      if (start_shift) begin
        shift_ptr_q  <= next_slot(shift_ptr_q);
        shift_slot_q <= shift_ptr_q;
      end
      if (w_valid) begin
        step_q     <= last_step ? '0 : step_q + 1'b1;
        shifting_q <= !last_step;
      end
    end
  end
endmodule
