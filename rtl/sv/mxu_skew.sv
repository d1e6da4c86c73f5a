// Triangular delay lines on an edge of the systolic array (mxu_array): lane i of q is lane i of d
// delayed by i clock cycles (REVERSE = 0: the input skew on the left edge and the weight skew on
// the top edge), or by LANES - 1 - i cycles (REVERSE = 1: the output de-skew below the array), so
// that a vector presented in one cycle enters (or leaves) the array as a diagonal wavefront. A
// lane delayed by 0 is a wire. Every stage resets to 0 (mxu_delay).
module mxu_skew #(
    parameter int LANES   = 8,
    parameter int WIDTH   = 16,
    parameter bit REVERSE = 1'b0
) (
    input  logic                        clk,
    input  logic                        rst_n,
    input  logic [LANES-1:0][WIDTH-1:0] d,
    output logic [LANES-1:0][WIDTH-1:0] q
);
  for (genvar i = 0; i < LANES; i++) begin : g_lane
    mxu_delay #(
        .DEPTH(REVERSE ? LANES - 1 - i : i),
        .WIDTH(WIDTH)
    ) u_delay (
        .clk  (clk),
        .rst_n(rst_n),
        .d    (d[i]),
        .q    (q[i])
    );
  end
endmodule
