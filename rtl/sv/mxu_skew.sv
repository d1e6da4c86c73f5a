// Triangular delay lines on an edge of the systolic array (mxu_array): lane i of q is lane i of d
// delayed by i clock cycles (REVERSE = 0: the input skew on the left edge and the weight skew on
// the top edge), or by LANES - 1 - i cycles (REVERSE = 1: the output de-skew below the array), so
// that a vector presented in one cycle enters (or leaves) the array as a diagonal wavefront. A
// lane delayed by 0 is a wire. Every stage resets to 0 (rst_n low at a rising edge), so valid bits
// carried in a lane start cleared.
module mxu_skew #(
    parameter int LANES   = 8,
    parameter int WIDTH   = 16,
    parameter bit REVERSE = 1'b0
) (
    input  logic                         clk,
    input  logic                         rst_n,
    input  logic [LANES-1:0][WIDTH-1:0]  d,
    output logic [LANES-1:0][WIDTH-1:0]  q
);
  for (genvar i = 0; i < LANES; i++) begin : g_lane
    localparam int DEPTH = REVERSE ? LANES - 1 - i : i;
    if (DEPTH == 0) begin : g_wire
      assign q[i] = d[i];
    end else begin : g_delay
      logic [WIDTH-1:0] stage[DEPTH];
      always_ff @(posedge clk) begin
        if (!rst_n) begin
          for (int s = 0; s < DEPTH; s++) stage[s] <= '0;
        end else begin
          stage[0] <= d[i];
          for (int s = 1; s < DEPTH; s++) stage[s] <= stage[s-1];
        end
      end
      assign q[i] = stage[DEPTH-1];
    end
  end
endmodule
