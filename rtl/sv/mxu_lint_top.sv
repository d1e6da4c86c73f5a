// Lint harness: the matrix unit at the size of the generated arch_pkg (ctest rtl_mxu_lint, with
// arch_pkg_tiny.sv), as the core instantiates it. Not a hardware block.
module mxu_lint_top (
    input  logic                                  clk,
    input  logic                                  rst_n,
    input  logic                                  in_valid,
    input  logic                                  in_swap,
    input  logic                                  in_int8,
    input  logic [15:0]                           in_tag,
    input  logic [arch_pkg::ARRAY_ROWS-1:0][15:0] in_x,
    input  logic                                  w_valid,
    input  logic [arch_pkg::ARRAY_COLS-1:0][15:0] w_row,
    output logic                                  shadow_full,
    output logic                                  out_valid,
    output logic [15:0]                           out_tag,
    output logic [arch_pkg::ARRAY_COLS-1:0][31:0] out_sum,
    output logic                                  protocol_error
);
  mxu_array #(
      .ROWS(arch_pkg::ARRAY_ROWS),
      .COLS(arch_pkg::ARRAY_COLS)
  ) u_array (
      .clk           (clk),
      .rst_n         (rst_n),
      .in_valid      (in_valid),
      .in_swap       (in_swap),
      .in_int8       (in_int8),
      .in_tag        (in_tag),
      .in_x          (in_x),
      .w_valid       (w_valid),
      .w_row         (w_row),
      .shadow_full   (shadow_full),
      .out_valid     (out_valid),
      .out_tag       (out_tag),
      .out_sum       (out_sum),
      .protocol_error(protocol_error)
  );
endmodule
