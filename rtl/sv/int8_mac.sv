// One processing element in int8 mode: y = acc + a * b, int8 operands, int32 accumulator with
// two's-complement wrap-around: numerics::MacInt8(acc, a, b). |a * b| <= 2^14 fits the 16-bit
// product exactly. Combinational.
module int8_mac (
    input  logic [31:0] acc,
    input  logic [7:0]  a,
    input  logic [7:0]  b,
    output logic [31:0] y
);
  logic signed [15:0] product;

  always_comb begin
    product = $signed(a) * $signed(b);
    y       = acc + {{16{product[15]}}, product};
  end
endmodule
