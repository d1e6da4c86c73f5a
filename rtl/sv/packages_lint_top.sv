// Lint harness: imports every generated package so Verilator checks them (ctest rtl_packages_lint).
module packages_lint_top (
    output logic [7:0] matmul_opcode,
    output int         array_rows
);
  import isa_pkg::*;
  assign matmul_opcode = OP_MATMUL;
  assign array_rows    = arch_pkg::ARRAY_ROWS;
endmodule
