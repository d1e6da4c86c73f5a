// The unified buffer (UB): ROWS rows of LW 32-bit words (fp32 bits in float mode, int32 in int8
// mode), in BANKS banks that interleave rows (row r in bank r % BANKS). The DMA ports move up to
// BANKS consecutive rows per cycle, one per bank (docs/timing.md rule 3's UB-port limit); the array
// and the vector unit use one row per port per cycle. Reads are asynchronous (the row is there in the
// cycle its address is); writes land at the rising edge. Same-row writes in one cycle are races the
// program's tokens exclude; the later port in this file wins. Row addresses are checked against the
// UB's size before a run (the functional pre-run), so out-of-range rows never reach this module.
module tpu_ub #(
    parameter int ROWS  = arch_pkg::UB_ROWS_INT8,
    parameter int LW    = arch_pkg::UB_LANES,
    parameter int BANKS = arch_pkg::UB_BANKS,
    parameter int AW    = $clog2(ROWS)
) (
    input  logic                           clk,
    // DMA write (LOAD beats): rows first .. first + n - 1.
    input  logic                           dma_we,
    input  logic [AW-1:0]                  dma_wrow,
    input  logic [$clog2(BANKS+1)-1:0]     dma_wn,
    input  logic [BANKS-1:0][LW-1:0][31:0] dma_wdata,
    // DMA read (STORE beats).
    input  logic [AW-1:0]                  dma_rrow,
    output logic [BANKS-1:0][LW-1:0][31:0] dma_rdata,
    // The array's input rows.
    input  logic [AW-1:0]                  mxu_rrow,
    output logic [LW-1:0][31:0]            mxu_rdata,
    // The vector unit: two reads and one write.
    input  logic [AW-1:0]                  vec_arow,
    output logic [LW-1:0][31:0]            vec_adata,
    input  logic [AW-1:0]                  vec_brow,
    output logic [LW-1:0][31:0]            vec_bdata,
    input  logic                           vec_we,
    input  logic [AW-1:0]                  vec_wrow,
    input  logic [LW-1:0][31:0]            vec_wdata,
    // Debug port (before and after a run): one row.
    input  logic                           dbg_we,
    input  logic [AW-1:0]                  dbg_row,
    input  logic [LW-1:0][31:0]            dbg_wdata,
    output logic [LW-1:0][31:0]            dbg_rdata
);
  logic [LW-1:0][31:0] mem[ROWS];

  function automatic logic [AW-1:0] plus(input logic [AW-1:0] row, input int k);
    return AW'((32'(row) + k) % ROWS);
  endfunction

  always_ff @(posedge clk) begin
    if (dma_we) begin
      for (int b = 0; b < BANKS; b++) if (b < 32'(dma_wn)) mem[plus(dma_wrow, b)] <= dma_wdata[b];
    end
    if (vec_we) mem[vec_wrow] <= vec_wdata;
    if (dbg_we) mem[dbg_row] <= dbg_wdata;
  end

  always_comb begin
    for (int b = 0; b < BANKS; b++) dma_rdata[b] = mem[plus(dma_rrow, b)];
  end
  assign mxu_rdata = mem[mxu_rrow];
  assign vec_adata = mem[vec_arow];
  assign vec_bdata = mem[vec_brow];
  assign dbg_rdata = mem[dbg_row];
endmodule
