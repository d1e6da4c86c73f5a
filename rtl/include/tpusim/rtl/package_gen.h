// Generators for the RTL's SystemVerilog packages. The RTL never retypes a fact of the machine:
//  - isa_pkg.sv  comes from isa/opcodes.def (opcodes, formats, field positions and widths, enum codes);
//  - arch_pkg.sv comes from an ArchConfig (array size, SRAM depths, FIFO depth, ...).
// The `tpusim_rtlgen` tool writes both at build time; rtl sources import them.
#pragma once

#include <string>

#include "isa/proto/arch_config.pb.h"

namespace tpusim::rtl {

// `package isa_pkg;` with localparams OP_<NAME> (8-bit opcode), <FORMAT>_<FIELD>_LSB / _WIDTH for every
// field, DTYPE_/ACT_/VOP_/QUEUE_ codes, and INSTRUCTION_BITS.
std::string GenerateIsaPackage();
// `package arch_pkg;` with ARRAY_ROWS, ARRAY_COLS, UB_LANES, UB_ROWS (fp32 mode), UB_ROWS_INT8 (int8
// mode: the depth of the UB's 32-bit-word rows), UB_BANKS, ACC_ENTRIES, WEIGHT_FIFO_DEPTH,
// DRAM_LATENCY_CYCLES, VECTOR_LANES, INSTRUCTION_QUEUE_DEPTH and the preset NAME.
std::string GenerateArchPackage(const isa::ArchConfig& arch);

}  // namespace tpusim::rtl
