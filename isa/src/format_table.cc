// The per-format field layout table and generic field access, expanded from opcodes.def.
#include "format_table.h"

#include <variant>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"
#include "text_util.h"

namespace tpusim::isa::detail {
namespace {

// One array of field descriptors per format. A trailing sentinel keeps the array non-empty for
// formats without fields (None); it is not counted in num_fields.
#define TPUSIM_FIELD_DESC(NAME, LSB, WIDTH, KIND) FieldDesc{#NAME, LSB, WIDTH, FieldKind::KIND},
#define TPUSIM_FORMAT(FORMAT, FIELDS) \
  constexpr FieldDesc k##FORMAT##Fields[] = {FIELDS(TPUSIM_FIELD_DESC) FieldDesc{}};
#include "tpusim/isa/opcodes.def"
#undef TPUSIM_FIELD_DESC

constexpr FormatDesc kFormats[] = {
#define TPUSIM_FORMAT(FORMAT, FIELDS) \
  FormatDesc{#FORMAT, k##FORMAT##Fields, sizeof(k##FORMAT##Fields) / sizeof(FieldDesc) - 1},
#include "tpusim/isa/opcodes.def"
};

// Compile-time checks of the table itself: every field inside the 256 bits, above the opcode byte,
// at most 64 bits wide, no two fields of a format overlapping, and at most kMaxFields per format.
constexpr bool FieldsWellFormed(const FieldDesc* fields, size_t n) {
  if (n > kMaxFields) return false;
  for (size_t i = 0; i < n; ++i) {
    const FieldDesc& f = fields[i];
    if (f.width == 0 || f.width > 64 || f.lsb < 8 || f.lsb + f.width > kInstructionWords * 64) {
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      const FieldDesc& g = fields[j];
      if (f.lsb < g.lsb + g.width && g.lsb < f.lsb + f.width) return false;
    }
  }
  return true;
}
#define TPUSIM_FORMAT(FORMAT, FIELDS)                                                             \
  static_assert(FieldsWellFormed(k##FORMAT##Fields, sizeof(k##FORMAT##Fields) / sizeof(FieldDesc) - 1), \
                "opcodes.def: fields of format " #FORMAT " are malformed or overlap");
#include "tpusim/isa/opcodes.def"

// Per-format field access: FORMAT##Args member NAME is field i of the format.
#define TPUSIM_GET_FIELD(NAME, LSB, WIDTH, KIND) values[i++] = a.NAME;
#define TPUSIM_SET_FIELD(NAME, LSB, WIDTH, KIND) a.NAME = values[i++];

template <typename T> struct FormatOfArgsType;
#define TPUSIM_FORMAT(FORMAT, FIELDS) \
  template <> struct FormatOfArgsType<FORMAT##Args> { static constexpr Format kFormat = Format::FORMAT; };
#include "tpusim/isa/opcodes.def"

}  // namespace

const FormatDesc& DescribeFormat(Format f) {
  const size_t index = static_cast<size_t>(f);
  TPUSIM_CHECK(index < kNumFormats, "invalid Format value");
  return kFormats[index];
}

std::optional<Format> FormatOfArgs(const Args& args) {
  return std::visit(
      [](const auto& a) -> std::optional<Format> {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return std::nullopt;
        } else {
          return FormatOfArgsType<T>::kFormat;
        }
      },
      args);
}

Args DefaultArgs(Format f) {
  switch (f) {
#define TPUSIM_FORMAT(FORMAT, FIELDS) \
  case Format::FORMAT:                \
    return FORMAT##Args{};
#include "tpusim/isa/opcodes.def"
  }
  TPUSIM_UNREACHABLE();
}

FieldValues GetFieldValues(const Args& args) {
  FieldValues values{};
  [[maybe_unused]] size_t i = 0;
  switch (args.index()) {
#define TPUSIM_FORMAT(FORMAT, FIELDS)                                    \
  case static_cast<size_t>(Format::FORMAT): {                            \
    [[maybe_unused]] const FORMAT##Args& a = std::get<FORMAT##Args>(args); \
    FIELDS(TPUSIM_GET_FIELD)                                             \
    break;                                                               \
  }
#include "tpusim/isa/opcodes.def"
    default:
      break;  // std::monostate: no fields
  }
  return values;
}

void SetFieldValues(Args& args, const FieldValues& values) {
  [[maybe_unused]] size_t i = 0;
  switch (args.index()) {
#define TPUSIM_FORMAT(FORMAT, FIELDS)                              \
  case static_cast<size_t>(Format::FORMAT): {                      \
    [[maybe_unused]] FORMAT##Args& a = std::get<FORMAT##Args>(args); \
    FIELDS(TPUSIM_SET_FIELD)                                       \
    break;                                                         \
  }
#include "tpusim/isa/opcodes.def"
    default:
      break;
  }
}

bool IsEnumKind(FieldKind kind) {
  return kind == FieldKind::DType || kind == FieldKind::VectorOp || kind == FieldKind::ActFunc ||
         kind == FieldKind::Queue;
}

bool EnumCodeValid(FieldKind kind, uint64_t code) { return !EnumCodeName(kind, code).empty(); }

std::string_view EnumCodeName(FieldKind kind, uint64_t code) {
  switch (kind) {
    case FieldKind::DType:
      if (auto v = DTypeFromCode(code)) return DTypeName(*v);
      return {};
    case FieldKind::VectorOp:
      if (auto v = VectorOpFromCode(code)) return VectorOpName(*v);
      return {};
    case FieldKind::ActFunc:
      if (auto v = ActFuncFromCode(code)) return ActFuncName(*v);
      return {};
    case FieldKind::Queue:
      if (auto v = QueueFromCode(code)) return QueueName(*v);
      return {};
    default:
      return {};
  }
}

std::optional<uint64_t> EnumCodeFromName(FieldKind kind, std::string_view name) {
  // Enumerated codes are small (the widest enum field is 6 bits), so a scan is cheap and keeps the
  // name tables in one place (isa.h's *Name functions).
  for (uint64_t code = 0; code < 256; ++code) {
    std::string_view n = EnumCodeName(kind, code);
    if (!n.empty() && detail::EqualsIgnoreCase(n, name)) return code;
  }
  return std::nullopt;
}

std::string_view FieldKindName(FieldKind kind) {
  switch (kind) {
    case FieldKind::Uint: return "unsigned integer";
    case FieldKind::Addr: return "address";
    case FieldKind::Bool: return "flag";
    case FieldKind::DType: return "dtype";
    case FieldKind::VectorOp: return "vector op";
    case FieldKind::ActFunc: return "activation function";
    case FieldKind::Queue: return "queue";
    case FieldKind::F32: return "fp32 value";
  }
  TPUSIM_UNREACHABLE();
}

}  // namespace tpusim::isa::detail
