// The controller and the three instruction queues of the core: docs/timing.md rules 1, 2 and 7 (and
// the start conditions of rules 4-6), cycle for cycle. Decoding uses isa_pkg (generated from
// isa/opcodes.def) only.
//
// Cycle t is the cycle that ends with rising edge t + 1; `now` is t. Everything that happens "at
// cycle t" in the contract is decided combinationally during cycle t from the registered state and
// the completions at t (done_*), and takes effect at the edge:
//   1. completions at t free queue entries; an ACTIVATE / VECTOR completing releases its queue (a
//      MATMUL released it at s + B, a DMA when its transfer left the DRAM channel: rel_*);
//   2. the queues pass zero-time instructions (WAIT, SIGNAL) and start at most one timed instruction
//      each. A SIGNAL passes (releases its queue) as soon as rule 2 lets it start; it completes, adding
//      its token, at once when nothing of its queue is in flight, else it stays *pending* with the
//      count of earlier instructions still in flight and completes at the cycle that count reaches 0
//      (rule 7; a queue completes its instructions in program order here: one matrix unit, one DRAM
//      channel with one latency, ACTIVATE / VECTOR after everything before them). Pending SIGNALs
//      completing at t add their tokens before anything passes at t. A SIGNAL completing at t may let
//      a WAIT of another queue pass at t, and a MATMUL popping the shadow weights at t may let a
//      LOAD_WEIGHTS start at t: the block iterates over the three queues until nothing changes (the
//      least fixed point the cycle engine's delta cycles reach);
//   3. the controller dispatches at most one instruction (SYNC and HALT wait for every dispatched
//      instruction to complete, completions at t included).
// Zero-row MATMUL / ACTIVATE / VECTOR (0-cycle instructions) never reach the core: rtl::CheckRtlSupport
// refuses them, and a DMA releases its queue one cycle after its start at the earliest (timing.md
// rule 3), so a queue starts at most one timed instruction per cycle. Token counts are the cycle engine's: the k-th WAIT of a channel passes once k tokens were
// signalled on it (tokens only grow during a run).
module tpu_ctrl
  import isa_pkg::*;
#(
    parameter int Q = arch_pkg::INSTRUCTION_QUEUE_DEPTH,
    parameter int F = arch_pkg::WEIGHT_FIFO_DEPTH
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic         run,
    input  logic [63:0]  now,
    // Instruction port: instr = program[pc], valid whenever pc is inside the program.
    output logic [31:0]  pc,
    input  logic [255:0] instr,
    // Completions at `now`: DMA engines count them (two when a zero-row transfer completes with
    // the transfer before it, timing.md rule 3).
    input  logic [1:0]   done_load,
    input  logic [1:0]   done_weight,
    input  logic [1:0]   done_store,
    input  logic         done_mxu,
    input  logic         done_vec,
    // The DMA a queue started last has left the DRAM channel at `now`: it releases its queue.
    input  logic         rel_load,
    input  logic         rel_weight,
    input  logic         rel_store,
    // Weight path state at `now` (rule 4): tiles held, shadow weights full.
    input  logic [7:0]   held,
    input  logic         shadow_full,
    // Starts at `now`: the instruction and its program index.
    output logic         start_valid[5],  // [0] LOAD, [1] LOAD_WEIGHTS, [2] STORE, [3] MATMUL, [4] ACT/VEC
    output logic [255:0] start_instr[5],
    output logic [31:0]  start_idx[5],
    // Observation (for the harness: trace, VCD windows, deadlock detection).
    output logic         ev_dispatch,
    output logic [31:0]  ev_dispatch_idx,
    output logic [3:0]   ev_passed[3],    // WAITs and SIGNALs passed (started) at `now`, per queue
    output logic [3:0]   ev_sig_done[3],  // SIGNALs completed at `now`, per queue, in program order
    output logic         halted,
    output logic [63:0]  cycles,          // the latest completion so far (the run's cycles at HALT)
    // Performance counting (docs/timing.md "Where every cycle of the array goes"), at `now`: the
    // compute queue's head may start by rule 2 but is a pop_weights MATMUL waiting for the shadow
    // weights (stall_pop) or a WAIT without its token (stall_wait); the controller holds a SYNC.
    output logic         stall_pop,
    output logic         stall_wait,
    output logic         sync_hold
);
  localparam int QB = $clog2(Q + 1);
  localparam int QI = (Q > 1) ? $clog2(Q) : 1;
  localparam logic [63:0] NEVER = '1;

  typedef struct packed {
    logic [255:0] instr;
    logic [31:0]  idx;
    logic [63:0]  d;       // dispatch cycle
    logic [31:0]  ticket;  // WAIT: the k of "the k-th WAIT of its channel"
  } entry_t;

  // ---- Registered state ------------------------------------------------------------------------
  entry_t      ent_q[3][Q];
  logic [QI-1:0] head_q[3];
  logic [QB-1:0] wait_n_q[3];     // entries not yet started
  logic [QB-1:0] occ_q[3];        // entries not yet completed (rule 1: a free entry)
  logic [QB-1:0] inflight_q[3];   // started, not completed
  logic [63:0] release_q[3];      // NEVER from a DMA / ACTIVATE / VECTOR start to its release
  // Pending SIGNALs (passed, not completed), oldest first: at most Q per queue (each holds an entry).
  typedef struct packed {
    logic [7:0]    channel;
    logic [QB-1:0] left;  // instructions before it in its queue still in flight
  } pend_t;
  pend_t       pend_q[3][Q];
  logic [QB-1:0] pend_n_q[3];
  logic [255:0][31:0] tokens_q;   // signalled so far, per channel (none present at the launch)
  logic [255:0][31:0] waits_q;    // WAITs dispatched so far, per channel
  logic [63:0] last_dispatch_q;   // NEVER before the first dispatch
  logic [63:0] max_end_q;
  logic [31:0] pc_q;
  logic        halted_q;

  assign pc = pc_q;
  assign halted = halted_q;
  assign cycles = max_end_q;

  // ---- Decode helpers --------------------------------------------------------------------------
  /* verilator lint_off UNUSEDSIGNAL */
  function automatic logic [7:0] opcode_of(input logic [255:0] i);
    return i[7:0];
  endfunction
  function automatic logic [1:0] queue_of(input logic [255:0] i);
    case (i[7:0])
      OP_LOAD, OP_LOAD_WEIGHTS: return 2'(QUEUE_LOAD);
      OP_STORE: return 2'(QUEUE_STORE);
      OP_SIGNAL, OP_WAIT: return i[TOKEN_QUEUE_LSB+:TOKEN_QUEUE_WIDTH];
      default: return 2'(QUEUE_COMPUTE);
    endcase
  endfunction
  function automatic logic [7:0] channel_of(input logic [255:0] i);
    return i[TOKEN_CHANNEL_LSB+:TOKEN_CHANNEL_WIDTH];
  endfunction
  // The start slot of a timed instruction.
  function automatic int unit_of(input logic [255:0] i);
    case (i[7:0])
      OP_LOAD: return 0;
      OP_LOAD_WEIGHTS: return 1;
      OP_STORE: return 2;
      OP_MATMUL: return 3;
      default: return 4;
    endcase
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  // ---- Step 1: completions at `now` --------------------------------------------------------------
  logic [QB-1:0] done_n[3];
  always_comb begin
    done_n[QUEUE_LOAD]    = QB'(done_load) + QB'(done_weight);
    done_n[QUEUE_COMPUTE] = QB'(done_mxu) + QB'(done_vec);
    done_n[QUEUE_STORE]   = QB'(done_store);
  end

  // ---- Step 2: the queues, to a fixed point ------------------------------------------------------
  logic [QB-1:0] passed[3];       // WAITs and SIGNALs that left the waiting list at `now`
  logic [QB-1:0] freed[3];        // of them, the ones that also completed at `now`
  logic [QB-1:0] pend_fin[3];     // pending SIGNALs (passed before `now`) completed at `now`
  logic [QB-1:0] sig_done[3];     // SIGNALs completed at `now`: pend_fin and the ones that passed
  pend_t         pend_now[3][Q];  // the pending SIGNALs after `now`, oldest first
  logic [QB-1:0] pend_n_now[3];
  logic          started[3];      // the entry after them started (timed)
  logic [63:0]   release_now[3];  // release after step 2
  logic [QB-1:0] inflight_now[3];
  logic [255:0][31:0] tokens_now;

  always_comb begin
    logic        blocked[3];
    logic [7:0]  held_now;
    logic [QB-1:0] left;
    /* verilator lint_off UNUSEDSIGNAL */
    entry_t      e;  // the ticket is read for WAITs only
    /* verilator lint_on UNUSEDSIGNAL */
    for (int q = 0; q < 3; q++) begin
      passed[q]       = '0;
      freed[q]        = '0;
      started[q]      = 1'b0;
      blocked[q]      = 1'b0;
      inflight_now[q] = inflight_q[q] - done_n[q];
      release_now[q]  = release_q[q];
    end
    if (rel_load || rel_weight) release_now[QUEUE_LOAD] = now;
    if (rel_store) release_now[QUEUE_STORE] = now;
    if (done_vec) release_now[QUEUE_COMPUTE] = now;
    tokens_now = tokens_q;
    // Rule 7: the completions at `now` count down the pending SIGNALs; those that reach 0 complete.
    for (int q = 0; q < 3; q++) begin
      pend_fin[q] = '0;
      for (int k = 0; k < Q; k++) pend_now[q][k] = '0;
      for (int k = 0; k < Q; k++) begin
        if (k < 32'(pend_n_q[q])) begin
          left = pend_q[q][k].left > done_n[q] ? pend_q[q][k].left - done_n[q] : '0;
          if (left == '0) begin
            tokens_now[pend_q[q][k].channel] = tokens_now[pend_q[q][k].channel] + 1;
            pend_fin[q] = pend_fin[q] + 1'b1;
          end else begin
            pend_now[q][QI'(32'(k) - 32'(pend_fin[q]))].channel = pend_q[q][k].channel;
            pend_now[q][QI'(32'(k) - 32'(pend_fin[q]))].left    = left;
          end
        end
      end
      pend_n_now[q] = pend_n_q[q] - pend_fin[q];
      sig_done[q]   = pend_fin[q];
    end
    held_now = held;
    for (int iter = 0; iter < 3 * Q + 2; iter++) begin
      for (int q = 0; q < 3; q++) begin
        if (run && !halted_q && !blocked[q] && !started[q] && passed[q] < wait_n_q[q]) begin
          e = ent_q[q][QI'((32'(head_q[q]) + 32'(passed[q])) % Q)];
          if (release_now[q] == NEVER || e.d + 64'd1 > now || release_now[q] > now) begin
            blocked[q] = 1'b1;  // rule 2; nothing else of this queue changes during this cycle
          end else begin
            case (opcode_of(e.instr))
              OP_WAIT: begin
                if (tokens_now[channel_of(e.instr)] >= e.ticket) begin
                  passed[q]      = passed[q] + 1'b1;
                  freed[q]       = freed[q] + 1'b1;
                  release_now[q] = now;
                end
              end
              OP_SIGNAL: begin
                // Rule 7: releases the queue at once; completes now only with nothing in flight.
                passed[q]      = passed[q] + 1'b1;
                release_now[q] = now;
                if (inflight_now[q] == '0) begin
                  tokens_now[channel_of(e.instr)] = tokens_now[channel_of(e.instr)] + 1;
                  freed[q]    = freed[q] + 1'b1;
                  sig_done[q] = sig_done[q] + 1'b1;
                end else begin
                  pend_now[q][QI'(pend_n_now[q])].channel = channel_of(e.instr);
                  pend_now[q][QI'(pend_n_now[q])].left    = inflight_now[q];
                  pend_n_now[q] = pend_n_now[q] + 1'b1;
                end
              end
              OP_LOAD_WEIGHTS: begin
                if (32'(held_now) < F) begin
                  started[q] = 1'b1;
                  held_now   = held_now + 1'b1;
                end
              end
              OP_MATMUL: begin
                if (!e.instr[MATMUL_POP_WEIGHTS_LSB] || shadow_full) begin
                  started[q] = 1'b1;
                  if (e.instr[MATMUL_POP_WEIGHTS_LSB]) held_now = held_now - 1'b1;
                end else begin
                  blocked[q] = 1'b1;  // the shadow weights fill at a later cycle
                end
              end
              OP_ACTIVATE, OP_VECTOR: begin
                if (inflight_now[q] == '0) started[q] = 1'b1;  // rule 6
                else blocked[q] = 1'b1;
              end
              default: started[q] = 1'b1;  // LOAD, STORE
            endcase
          end
        end
      end
    end
  end

  // Per queue: the entry that starts, how many entries leave the waiting list, where a dispatched
  // entry goes, and the entry it becomes.
  entry_t        start_entry[3];
  logic [QB-1:0] leave[3];
  logic [QI-1:0] tail[3];
  entry_t        new_entry;
  always_comb begin
    for (int q = 0; q < 3; q++) begin
      start_entry[q] = ent_q[q][QI'((32'(head_q[q]) + 32'(passed[q])) % Q)];
      leave[q]       = passed[q] + QB'(started[q]);
      tail[q]        = QI'((32'(head_q[q]) + 32'(wait_n_q[q])) % Q);
    end
    new_entry.instr  = instr;
    new_entry.idx    = pc_q;
    new_entry.d      = now;
    new_entry.ticket = opcode_of(instr) == OP_WAIT ? waits_q[channel_of(instr)] + 1 : '0;
  end

  // The timed starts, by unit.
  always_comb begin
    for (int u = 0; u < 5; u++) begin
      start_valid[u] = 1'b0;
      start_instr[u] = '0;
      start_idx[u]   = '0;
    end
    for (int q = 0; q < 3; q++) begin
      if (started[q]) begin
        start_valid[unit_of(start_entry[q].instr)] = 1'b1;
        start_instr[unit_of(start_entry[q].instr)] = start_entry[q].instr;
        start_idx[unit_of(start_entry[q].instr)]   = start_entry[q].idx;
      end
    end
  end

  // ---- Step 3: dispatch ----------------------------------------------------------------------------
  logic [QB-1:0] occ_now[3];
  logic          outstanding_now;
  logic          can_issue, do_dispatch, do_sync, do_halt;
  logic [1:0]    dq;
  always_comb begin
    outstanding_now = 1'b0;
    for (int q = 0; q < 3; q++) begin
      occ_now[q] = occ_q[q] - done_n[q] - freed[q] - pend_fin[q];
      outstanding_now = outstanding_now | (occ_now[q] != '0);
    end
    can_issue   = run && !halted_q && (last_dispatch_q == NEVER || last_dispatch_q + 64'd1 <= now);
    dq          = queue_of(instr);
    do_sync     = can_issue && opcode_of(instr) == OP_SYNC && !outstanding_now;
    do_halt     = can_issue && opcode_of(instr) == OP_HALT && !outstanding_now;
    do_dispatch = can_issue && opcode_of(instr) != OP_SYNC && opcode_of(instr) != OP_HALT &&
                  32'(occ_now[dq]) < Q;
  end
  assign ev_dispatch     = do_dispatch || do_sync || do_halt;

  // Performance counting: the compute queue's head after this cycle's passes.
  logic compute_ready;
  /* verilator lint_off UNUSEDSIGNAL */
  entry_t compute_head;
  /* verilator lint_on UNUSEDSIGNAL */
  always_comb begin
    compute_head  = start_entry[QUEUE_COMPUTE];
    compute_ready = run && !halted_q && !started[QUEUE_COMPUTE] &&
                    passed[QUEUE_COMPUTE] < wait_n_q[QUEUE_COMPUTE] &&
                    release_now[QUEUE_COMPUTE] != NEVER && compute_head.d + 64'd1 <= now &&
                    release_now[QUEUE_COMPUTE] <= now;
    stall_pop  = compute_ready && opcode_of(compute_head.instr) == OP_MATMUL &&
                 compute_head.instr[MATMUL_POP_WEIGHTS_LSB];
    stall_wait = compute_ready && opcode_of(compute_head.instr) == OP_WAIT;
    sync_hold  = can_issue && opcode_of(instr) == OP_SYNC;
  end
  assign ev_dispatch_idx = pc_q;
  for (genvar q = 0; q < 3; q++) begin : g_ev
    assign ev_passed[q]   = 4'(passed[q]);
    assign ev_sig_done[q] = 4'(sig_done[q]);
  end

  // ---- The edge ------------------------------------------------------------------------------------
  logic [63:0] max_end_next;
  always_comb begin
    max_end_next = max_end_q;
    if ((done_load != '0 || done_weight != '0 || done_store != '0 || done_mxu || done_vec) &&
        now > max_end_next)
      max_end_next = now;
    for (int q = 0; q < 3; q++)
      if ((freed[q] != '0 || pend_fin[q] != '0) && now > max_end_next) max_end_next = now;
    if (do_sync && now + 64'd1 > max_end_next) max_end_next = now + 64'd1;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int q = 0; q < 3; q++) begin
        head_q[q]     <= '0;
        wait_n_q[q]   <= '0;
        occ_q[q]      <= '0;
        inflight_q[q] <= '0;
        release_q[q]  <= '0;
        pend_n_q[q]   <= '0;
        for (int k = 0; k < Q; k++) pend_q[q][k] <= '0;
      end
      tokens_q <= '0;
      waits_q  <= '0;
      last_dispatch_q <= NEVER;
      max_end_q       <= '0;
      pc_q            <= '0;
      halted_q        <= 1'b0;
    end else if (run && !halted_q) begin
      tokens_q <= tokens_now;
      for (int q = 0; q < 3; q++) begin
        pend_q[q]     <= pend_now[q];
        pend_n_q[q]   <= pend_n_now[q];
        head_q[q]     <= QI'((32'(head_q[q]) + 32'(leave[q])) % Q);
        inflight_q[q] <= inflight_now[q] + QB'(started[q]);
        if (!started[q]) release_q[q] <= release_now[q];
        else if (opcode_of(start_entry[q].instr) == OP_MATMUL)
          release_q[q] <= now + 64'(start_entry[q].instr[MATMUL_ROWS_LSB+:MATMUL_ROWS_WIDTH]);
        else release_q[q] <= NEVER;
        // Occupancy and the waiting list, with this cycle's dispatch.
        occ_q[q]    <= occ_now[q] + QB'(do_dispatch && dq == 2'(q));
        wait_n_q[q] <= wait_n_q[q] - leave[q] + QB'(do_dispatch && dq == 2'(q));
        if (do_dispatch && dq == 2'(q)) ent_q[q][tail[q]] <= new_entry;
      end
      if (do_dispatch && opcode_of(instr) == OP_WAIT)
        waits_q[channel_of(instr)] <= waits_q[channel_of(instr)] + 1;
      if (do_dispatch || do_sync) begin
        last_dispatch_q <= now;
        pc_q            <= pc_q + 1;
      end
      if (do_halt) halted_q <= 1'b1;
      max_end_q <= max_end_next;
    end
  end
endmodule
