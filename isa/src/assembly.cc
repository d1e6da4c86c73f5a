// Text assembly and disassembly, written once against the field layout table (format_table.h).
// Contract: for every instruction that encodes, Assemble(Disassemble(i)) == i, so binary -> text ->
// binary is byte-exact (F32 fields print as the shortest round-tripping decimal, or as bits for NaNs).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "format_table.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"
#include "text_util.h"

namespace tpusim::isa {
namespace {

using detail::FieldDesc;
using detail::FieldKind;
using detail::FormatDesc;

constexpr uint32_t kCanonicalNanBits = 0x7fc00000u;

std::string FormatF32(uint64_t raw) {
  uint32_t bits = static_cast<uint32_t>(raw);
  float f = BitsF32(bits);
  if (std::isnan(f)) return bits == kCanonicalNanBits ? "nan" : absl::StrFormat("0x%08x", bits);
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), f);  // shortest representation that round-trips
  TPUSIM_CHECK(result.ec == std::errc(), "to_chars(float) failed");
  return std::string(buf, result.ptr);
}

std::string FormatField(const FieldDesc& f, uint64_t value) {
  switch (f.kind) {
    case FieldKind::Uint:
    case FieldKind::Bool:
      return detail::Cat(value);
    case FieldKind::Addr:
      return absl::StrFormat("0x%x", value);
    case FieldKind::F32:
      return FormatF32(value);
    case FieldKind::DType:
    case FieldKind::VectorOp:
    case FieldKind::ActFunc:
    case FieldKind::Queue: {
      std::string_view name = detail::EnumCodeName(f.kind, value);
      return name.empty() ? detail::Cat(value) : std::string(name);  // unknown codes stay numeric
    }
  }
  TPUSIM_UNREACHABLE();
}

// Unsigned decimal or 0x-prefixed hex; nullopt if malformed or wider than 64 bits.
std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  auto result = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

absl::StatusOr<uint64_t> ParseF32(std::string_view text, const FieldDesc& f) {
  std::string lower(text);
  for (char& c : lower) c = detail::AsciiLower(c);
  if (lower == "nan" || lower == "+nan") return kCanonicalNanBits;
  if (lower == "-nan") return kCanonicalNanBits | 0x80000000u;
  if (lower == "inf" || lower == "+inf" || lower == "infinity") return F32Bits(INFINITY);
  if (lower == "-inf" || lower == "-infinity") return F32Bits(-INFINITY);
  if (detail::StartsWithIgnoreCase(lower, "0x")) {
    std::optional<uint64_t> bits = ParseUnsigned(text);
    if (!bits) return absl::InvalidArgumentError(detail::Cat("bad number '", text, "' for ", f.name));
    if (*bits > 0xffffffffu) {
      return absl::InvalidArgumentError(
          detail::Cat("value ", text, " does not fit ", f.name, " (32-bit fp32 pattern)"));
    }
    return *bits;
  }
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  float value = 0;
  auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || result.ptr != digits.data() + digits.size() ||
      (result.ec != std::errc() && result.ec != std::errc::result_out_of_range)) {
    return absl::InvalidArgumentError(detail::Cat("bad number '", text, "' for ", f.name));
  }
  if (result.ec == std::errc::result_out_of_range) {
    return absl::InvalidArgumentError(
        detail::Cat("value ", text, " is out of fp32 range for ", f.name));
  }
  return F32Bits(value);
}

std::string EnumChoices(FieldKind kind) {
  std::vector<std::string_view> names;
  for (uint64_t code = 0; code < 256; ++code) {
    std::string_view n = detail::EnumCodeName(kind, code);
    if (!n.empty()) names.push_back(n);
  }
  return detail::Join(names, ", ");
}

absl::StatusOr<uint64_t> ParseField(const FieldDesc& f, std::string_view text) {
  if (f.kind == FieldKind::F32) return ParseF32(text, f);
  if (detail::IsEnumKind(f.kind)) {
    if (auto code = detail::EnumCodeFromName(f.kind, text)) return *code;
    std::optional<uint64_t> code = ParseUnsigned(text);
    if (code && detail::EnumCodeValid(f.kind, *code)) return *code;
    return absl::InvalidArgumentError(detail::Cat("unknown ", detail::FieldKindName(f.kind), " '",
                                                   text, "' for ", f.name, " (expected one of ",
                                                   EnumChoices(f.kind), ")"));
  }
  std::optional<uint64_t> value = ParseUnsigned(text);
  if (!value) {
    // Well-formed digits that overflow 64 bits are too wide, anything else is malformed.
    std::string_view digits = text;
    const char* allowed = "0123456789";
    if (detail::StartsWithIgnoreCase(digits, "0x")) {
      digits.remove_prefix(2);
      allowed = "0123456789abcdefABCDEF";
    }
    if (!digits.empty() && digits.find_first_not_of(allowed) == digits.npos) {
      return absl::InvalidArgumentError(
          detail::Cat("value ", text, " does not fit ", f.name, " (", f.width, " bits)"));
    }
    return absl::InvalidArgumentError(detail::Cat("bad number '", text, "' for ", f.name));
  }
  if (f.width < 64 && (*value >> f.width) != 0) {
    return absl::InvalidArgumentError(
        detail::Cat("value ", text, " does not fit ", f.name, " (", f.width, " bits)"));
  }
  return *value;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Removes a trailing comment ('#' or ';') and surrounding whitespace.
std::string_view StripLine(std::string_view line) {
  size_t comment = line.find_first_of("#;");
  if (comment != line.npos) line = line.substr(0, comment);
  return detail::StripWhitespace(line);
}

}  // namespace

std::string Disassemble(const Instruction& inst) {
  std::optional<Opcode> op = OpcodeFromCode(static_cast<uint8_t>(inst.opcode));
  if (!op) return absl::StrFormat("<invalid opcode 0x%02x>", static_cast<unsigned>(inst.opcode));
  std::string text(Mnemonic(*op));
  std::optional<Format> args_format = detail::FormatOfArgs(inst.args);
  if (!args_format || *args_format != FormatOf(*op)) {
    return detail::Cat(text, " <arguments do not match format ", FormatName(FormatOf(*op)), ">");
  }
  const FormatDesc& fmt = detail::DescribeFormat(*args_format);
  detail::FieldValues values = detail::GetFieldValues(inst.args);
  for (size_t i = 0; i < fmt.num_fields; ++i) {
    text += detail::Cat(" ", fmt.fields[i].name, "=", FormatField(fmt.fields[i], values[i]));
  }
  return text;
}

std::string DisassembleProgram(const std::vector<Instruction>& code) {
  std::string text;
  for (const Instruction& inst : code) text += detail::Cat(Disassemble(inst), "\n");
  return text;
}

absl::StatusOr<Instruction> Assemble(std::string_view line) {
  std::string_view rest = StripLine(line);
  if (rest.empty()) return absl::InvalidArgumentError("empty line: expected an instruction");
  size_t end = 0;
  while (end < rest.size() && !IsSpace(rest[end])) ++end;
  std::string_view mnemonic = rest.substr(0, end);
  rest = detail::StripLeadingWhitespace(rest.substr(end));
  std::optional<Opcode> op = OpcodeFromMnemonic(mnemonic);
  if (!op) return absl::InvalidArgumentError(detail::Cat("unknown mnemonic '", mnemonic, "'"));

  const FormatDesc& fmt = detail::DescribeFormat(FormatOf(*op));
  Instruction inst = Make(*op);
  detail::FieldValues values{};
  std::vector<bool> seen(fmt.num_fields, false);
  while (!rest.empty()) {
    // name [ws] '=' [ws] value
    size_t name_end = 0;
    while (name_end < rest.size() && !IsSpace(rest[name_end]) && rest[name_end] != '=') ++name_end;
    std::string_view name = rest.substr(0, name_end);
    rest = detail::StripLeadingWhitespace(rest.substr(name_end));
    if (rest.empty() || rest[0] != '=') {
      return absl::InvalidArgumentError(
          detail::Cat("expected 'field=value' after ", Mnemonic(*op), ", got '", name, "'"));
    }
    rest = detail::StripLeadingWhitespace(rest.substr(1));
    size_t value_end = 0;
    while (value_end < rest.size() && !IsSpace(rest[value_end])) ++value_end;
    std::string_view value_text = rest.substr(0, value_end);
    rest = detail::StripLeadingWhitespace(rest.substr(value_end));
    if (value_text.empty()) {
      return absl::InvalidArgumentError(detail::Cat("missing value for field '", name, "'"));
    }
    size_t index = fmt.num_fields;
    for (size_t i = 0; i < fmt.num_fields; ++i) {
      if (detail::EqualsIgnoreCase(fmt.fields[i].name, name)) index = i;
    }
    if (index == fmt.num_fields) {
      return absl::InvalidArgumentError(
          detail::Cat("unknown field '", name, "' for ", Mnemonic(*op)));
    }
    if (seen[index]) {
      return absl::InvalidArgumentError(
          detail::Cat("field '", fmt.fields[index].name, "' given twice for ", Mnemonic(*op)));
    }
    seen[index] = true;
    TPUSIM_ASSIGN_OR_RETURN(values[index], ParseField(fmt.fields[index], value_text));
  }
  detail::SetFieldValues(inst.args, values);
  return inst;
}

absl::StatusOr<std::vector<Instruction>> AssembleProgram(std::string_view text) {
  std::vector<Instruction> code;
  size_t line_number = 0;
  for (size_t pos = 0; pos <= text.size();) {
    size_t newline = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, newline - pos);
    pos = newline + 1;
    ++line_number;
    if (StripLine(line).empty()) continue;
    absl::StatusOr<Instruction> inst = Assemble(line);
    if (!inst.ok()) {
      return absl::InvalidArgumentError(
          detail::Cat("line ", line_number, ": ", inst.status().message()));
    }
    code.push_back(*std::move(inst));
  }
  return code;
}

}  // namespace tpusim::isa
