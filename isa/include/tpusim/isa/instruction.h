// The instruction set as C++ types, expanded from opcodes.def (the only place an instruction is
// defined). An `Instruction` is an opcode plus the typed fields of its format.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <variant>

namespace tpusim::isa {

inline constexpr uint32_t kIsaVersion = 1;
inline constexpr size_t kInstructionBytes = 32;  // 256-bit fixed width
inline constexpr size_t kInstructionWords = 4;   // little-endian 64-bit words

enum class Opcode : uint8_t {
#define TPUSIM_OPCODE(NAME, CODE, FORMAT, QUEUE, MNEMONIC) NAME = CODE,
#include "tpusim/isa/opcodes.def"
};

enum class Format : uint8_t {
#define TPUSIM_FORMAT(FORMAT, FIELDS) FORMAT,
#include "tpusim/isa/opcodes.def"
};

enum class Queue : uint8_t {
#define TPUSIM_QUEUE(NAME, CODE, MNEMONIC) NAME = CODE,
#include "tpusim/isa/opcodes.def"
};

enum class DType : uint8_t {
#define TPUSIM_DTYPE(NAME, CODE, BYTES, MNEMONIC) NAME = CODE,
#include "tpusim/isa/opcodes.def"
};

enum class ActFunc : uint8_t {
#define TPUSIM_ACT_FUNC(NAME, CODE, MNEMONIC) NAME = CODE,
#include "tpusim/isa/opcodes.def"
};

enum class VectorOp : uint8_t {
#define TPUSIM_VECTOR_OP(NAME, CODE, ARITY, MNEMONIC) NAME = CODE,
#include "tpusim/isa/opcodes.def"
};

enum class VectorArity : uint8_t { Unary, Binary, Imm, Reduce };

// Per-format argument structs, one per TPUSIM_FORMAT, fields in table order. Each field is a uint64_t
// holding the raw (unsigned) field value: enum fields hold the enum's code, F32 fields the float's bit
// pattern (use isa::F32Bits / isa::BitsF32). Field widths are checked by the encoder, not here.
#define TPUSIM_DECLARE_FIELD(NAME, LSB, WIDTH, KIND) uint64_t NAME = 0;
#define TPUSIM_FORMAT(FORMAT, FIELDS) \
  struct FORMAT##Args {               \
    FIELDS(TPUSIM_DECLARE_FIELD)      \
  };
#include "tpusim/isa/opcodes.def"
#undef TPUSIM_DECLARE_FIELD

// Alternatives in Format order, so Args::index() == static_cast<size_t>(format).
using Args = std::variant<
#define TPUSIM_FORMAT(FORMAT, FIELDS) FORMAT##Args,
#include "tpusim/isa/opcodes.def"
    std::monostate>;

// One decoded instruction. Invariant (kept by the factory functions in isa.h and by Decode):
// args holds the alternative of opcode's format.
struct Instruction {
  Opcode opcode = Opcode::HALT;
  Args args = NoneArgs{};

  template <typename T> const T& as() const { return std::get<T>(args); }
  template <typename T> T& as() { return std::get<T>(args); }
};

bool operator==(const Instruction& a, const Instruction& b);
inline bool operator!=(const Instruction& a, const Instruction& b) { return !(a == b); }

}  // namespace tpusim::isa
