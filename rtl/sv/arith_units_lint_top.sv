// Lint harness: instantiates every arithmetic unit so `verilator --lint-only -Wall` checks them all
// in one run (ctest rtl_units_lint). Not a hardware block.
module arith_units_lint_top (
    input  logic [31:0] a,
    input  logic [31:0] b,
    input  logic [31:0] c,
    output logic [15:0] bf16_y,
    output logic [31:0] add_y,
    output logic [31:0] mul_y,
    output logic [31:0] bf16_mac_y,
    output logic [31:0] int8_mac_y,
    output logic [7:0]  requantize_y
);
  bf16_round u_bf16_round (
      .x(a),
      .y(bf16_y)
  );
  fp32_add_ftz u_add (
      .a(a),
      .b(b),
      .y(add_y)
  );
  fp32_mul_ftz u_mul (
      .a(a),
      .b(b),
      .y(mul_y)
  );
  bf16_mac u_bf16_mac (
      .psum(c),
      .a(a[31:16]),
      .b(b[31:16]),
      .y(bf16_mac_y)
  );
  int8_mac u_int8_mac (
      .acc(c),
      .a(a[7:0]),
      .b(b[7:0]),
      .y(int8_mac_y)
  );
  requantize u_requantize (
      .v(a),
      .scale(b),
      .zero_point(c),
      .y(requantize_y)
  );
endmodule
