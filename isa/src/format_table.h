// Private to tpusim_isa: the per-format field layout table and generic field access, expanded from
// opcodes.def. The encoder, decoder, assembler and disassembler are written once against this table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tpusim/isa/instruction.h"

namespace tpusim::isa::detail {

// How a field's raw value is interpreted (the KIND column of opcodes.def).
enum class FieldKind : uint8_t { Uint, Addr, Bool, DType, VectorOp, ActFunc, Queue, F32 };

// One field: bits [lsb, lsb + width) of the 256-bit instruction (may straddle 64-bit words).
struct FieldDesc {
  std::string_view name;
  uint32_t lsb = 0;
  uint32_t width = 0;
  FieldKind kind = FieldKind::Uint;
};

struct FormatDesc {
  std::string_view name;
  const FieldDesc* fields = nullptr;  // num_fields entries, in assembly (table) order
  size_t num_fields = 0;
};

inline constexpr size_t kMaxFields = 8;
// Raw field values of one instruction, in the format's field order; entries past num_fields are 0.
using FieldValues = std::array<uint64_t, kMaxFields>;

inline constexpr size_t kNumFormats = 0
#define TPUSIM_FORMAT(FORMAT, FIELDS) +1
#include "tpusim/isa/opcodes.def"
    ;

// Valid formats only (TPUSIM_CHECKed).
const FormatDesc& DescribeFormat(Format f);
// The format an Args alternative belongs to; nullopt for std::monostate.
std::optional<Format> FormatOfArgs(const Args& args);
// Default-constructed (all-zero) args of a format.
Args DefaultArgs(Format f);
// Reads / writes the fields of args (whose alternative is f's) in table order.
FieldValues GetFieldValues(const Args& args);
void SetFieldValues(Args& args, const FieldValues& values);

// Enumerated field kinds (DType, VectorOp, ActFunc, Queue).
bool IsEnumKind(FieldKind kind);
bool EnumCodeValid(FieldKind kind, uint64_t code);
std::string_view EnumCodeName(FieldKind kind, uint64_t code);  // "" when unknown
std::optional<uint64_t> EnumCodeFromName(FieldKind kind, std::string_view name);  // case-insensitive
std::string_view FieldKindName(FieldKind kind);  // "dtype", "vector op", ...

}  // namespace tpusim::isa::detail
