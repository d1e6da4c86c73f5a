// Facts about opcodes and enumerated field values, encoding/decoding, and the text assembly.
// Everything here is expanded from opcodes.def.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::isa {

// ---- Table facts ----------------------------------------------------------------------------------
inline constexpr size_t kNumOpcodes = 0
#define TPUSIM_OPCODE(NAME, CODE, FORMAT, QUEUE, MNEMONIC) +1
#include "tpusim/isa/opcodes.def"
    ;
// Every opcode, in table order (for per-opcode statistics and exhaustive tests).
const std::vector<Opcode>& AllOpcodes();
// Dense index 0..kNumOpcodes-1 of an opcode, in table order.
size_t OpcodeIndex(Opcode op);
std::optional<Opcode> OpcodeFromCode(uint8_t code);
std::string_view Mnemonic(Opcode op);            // "MATMUL"
std::optional<Opcode> OpcodeFromMnemonic(std::string_view mnemonic);  // case-insensitive
Format FormatOf(Opcode op);
Queue QueueOf(Opcode op);
std::string_view FormatName(Format f);

std::string_view DTypeName(DType t);  // "f32"
size_t DTypeBytes(DType t);
std::optional<DType> DTypeFromCode(uint64_t code);
std::string_view ActFuncName(ActFunc f);
std::optional<ActFunc> ActFuncFromCode(uint64_t code);
std::string_view VectorOpName(VectorOp op);
VectorArity VectorOpArity(VectorOp op);
std::optional<VectorOp> VectorOpFromCode(uint64_t code);
std::string_view QueueName(Queue q);
std::optional<Queue> QueueFromCode(uint64_t code);

inline uint64_t F32Bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float BitsF32(uint64_t bits) { uint32_t u = static_cast<uint32_t>(bits); float f; std::memcpy(&f, &u, 4); return f; }

// ---- Construction ---------------------------------------------------------------------------------
// Builds an instruction with the format's args; the caller fills the fields.
Instruction Make(Opcode op);
Instruction Make(Opcode op, Args args);  // TPUSIM_CHECKs that args matches op's format.

// ---- Binary encoding (256-bit words, see opcodes.def) ---------------------------------------------
using Word = std::array<uint64_t, kInstructionWords>;
// Fails (InvalidArgument) if a field value does not fit its width or an enum code is unknown.
absl::StatusOr<Word> Encode(const Instruction& inst);
// Fails (InvalidArgument) on an unknown opcode, set reserved bits or an unknown enum code.
absl::StatusOr<Instruction> Decode(const Word& word);

// Byte streams: kInstructionBytes per instruction, each word little-endian.
absl::StatusOr<std::string> EncodeProgram(const std::vector<Instruction>& code);
// Errors name the byte offset of the offending instruction ("at byte 64 (instruction 2): ...");
// a length that is not a multiple of kInstructionBytes is a truncated stream.
absl::StatusOr<std::vector<Instruction>> DecodeProgram(std::string_view bytes);

// ---- Text assembly --------------------------------------------------------------------------------
// Canonical line: MNEMONIC field=value ... with every field of the format in table order, e.g.
//   LOAD dtype=f32 dram_addr=0x100 ub_row=0 rows=8 lanes=8 row_stride=784 lane_stride=1
// Uint fields decimal, Addr fields hex (0x...), Bool 0/1, enum fields by name, F32 fields as the
// shortest decimal that round-trips (or inf/-inf/nan/0x7fc00000-style bits for NaN payloads).
std::string Disassemble(const Instruction& inst);
std::string DisassembleProgram(const std::vector<Instruction>& code);  // one line each, '\n'-terminated
// Parses one line. Fields may appear in any order; omitted fields are 0. Comments start with '#' or
// ';'. Errors name the problem ("unknown field 'foo' for LOAD", "value 70000 does not fit rows (16 bits)").
absl::StatusOr<Instruction> Assemble(std::string_view line);
// Parses a whole text (blank and comment-only lines skipped); errors name the 1-based line number.
absl::StatusOr<std::vector<Instruction>> AssembleProgram(std::string_view text);

}  // namespace tpusim::isa
