// A delay line: q is d delayed by DEPTH rising edges of clk (DEPTH = 0: a wire). Every stage resets
// to 0 (rst_n low at a rising edge), so valid bits carried through it start cleared. Written as one
// packed shift register, without procedural loops, so Verilator emits it compactly at any depth.
module mxu_delay #(
    parameter int DEPTH = 1,
    parameter int WIDTH = 1
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [WIDTH-1:0] d,
    output logic [WIDTH-1:0] q
);
  if (DEPTH == 0) begin : g_wire
    logic unused_clock;  // a wire uses neither
    assign unused_clock = clk ^ rst_n;
    assign q = d;
  end else if (DEPTH == 1) begin : g_one
    logic [WIDTH-1:0] stage;
    always_ff @(posedge clk) stage <= rst_n ? d : '0;
    assign q = stage;
  end else begin : g_line
    logic [DEPTH-1:0][WIDTH-1:0] stage;  // stage[0] is the newest
    always_ff @(posedge clk) stage <= rst_n ? {stage[DEPTH-2:0], d} : '0;
    assign q = stage[DEPTH-1];
  end
endmodule
