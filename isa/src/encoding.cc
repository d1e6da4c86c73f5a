// Binary encoding and decoding, written once against the field layout table (format_table.h).
#include <algorithm>
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

constexpr uint32_t kOpcodeBits = 8;

uint64_t LowMask(uint32_t width) { return width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1; }

// Bits [lsb, lsb + width) of the instruction; the range may straddle 64-bit words.
uint64_t GetBits(const Word& w, uint32_t lsb, uint32_t width) {
  uint64_t value = 0;
  uint32_t done = 0;
  while (done < width) {
    uint32_t bit = lsb + done;
    uint32_t word = bit / 64, shift = bit % 64;
    uint32_t n = std::min(width - done, 64 - shift);
    value |= ((w[word] >> shift) & LowMask(n)) << done;
    done += n;
  }
  return value;
}

// Writes `value` (already known to fit `width` bits) into bits [lsb, lsb + width).
void SetBits(Word& w, uint32_t lsb, uint32_t width, uint64_t value) {
  uint32_t done = 0;
  while (done < width) {
    uint32_t bit = lsb + done;
    uint32_t word = bit / 64, shift = bit % 64;
    uint32_t n = std::min(width - done, 64 - shift);
    uint64_t mask = LowMask(n) << shift;
    w[word] = (w[word] & ~mask) | (((value >> done) & LowMask(n)) << shift);
    done += n;
  }
}

// Bits a format defines (opcode byte plus every field); all others are reserved.
Word DefinedBits(const FormatDesc& fmt) {
  Word mask{};
  SetBits(mask, 0, kOpcodeBits, LowMask(kOpcodeBits));
  for (size_t i = 0; i < fmt.num_fields; ++i) {
    SetBits(mask, fmt.fields[i].lsb, fmt.fields[i].width, LowMask(fmt.fields[i].width));
  }
  return mask;
}

std::string BitRange(const FieldDesc& f) {
  return absl::StrFormat("bits [%d:%d]", f.lsb + f.width - 1, f.lsb);
}

// "reserved bits 11, 200 are set" (at most a few listed).
std::string DescribeReserved(const Word& bits) {
  std::vector<int> set;
  int total = 0;
  for (int i = 0; i < static_cast<int>(kInstructionWords * 64); ++i) {
    if ((bits[i / 64] >> (i % 64)) & 1) {
      if (set.size() < 8) set.push_back(i);
      ++total;
    }
  }
  std::string list = detail::Join(set, ", ");
  if (total > static_cast<int>(set.size())) list += detail::Cat(", ... (", total, " in all)");
  return detail::Cat(total == 1 ? "reserved bit " : "reserved bits ", list,
                      total == 1 ? " is set" : " are set");
}

}  // namespace

absl::StatusOr<Word> Encode(const Instruction& inst) {
  std::optional<Opcode> op = OpcodeFromCode(static_cast<uint8_t>(inst.opcode));
  if (!op) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot encode unknown opcode 0x%02x", static_cast<unsigned>(inst.opcode)));
  }
  Format format = FormatOf(*op);
  std::optional<Format> args_format = detail::FormatOfArgs(inst.args);
  if (!args_format || *args_format != format) {
    return absl::InvalidArgumentError(detail::Cat(Mnemonic(*op), ": arguments are not of format ",
                                                   FormatName(format)));
  }
  const FormatDesc& fmt = detail::DescribeFormat(format);
  detail::FieldValues values = detail::GetFieldValues(inst.args);
  Word w{};
  SetBits(w, 0, kOpcodeBits, static_cast<uint8_t>(*op));
  for (size_t i = 0; i < fmt.num_fields; ++i) {
    const FieldDesc& f = fmt.fields[i];
    if (values[i] & ~LowMask(f.width)) {
      return absl::InvalidArgumentError(detail::Cat(Mnemonic(*op), ": value ", values[i],
                                                     " does not fit ", f.name, " (", f.width, " bits)"));
    }
    if (detail::IsEnumKind(f.kind) && !detail::EnumCodeValid(f.kind, values[i])) {
      return absl::InvalidArgumentError(detail::Cat(Mnemonic(*op), ": unknown ",
                                                     detail::FieldKindName(f.kind), " code ", values[i],
                                                     " in field '", f.name, "'"));
    }
    SetBits(w, f.lsb, f.width, values[i]);
  }
  return w;
}

absl::StatusOr<Instruction> Decode(const Word& word) {
  uint8_t code = static_cast<uint8_t>(GetBits(word, 0, kOpcodeBits));
  std::optional<Opcode> op = OpcodeFromCode(code);
  if (!op) {
    return absl::InvalidArgumentError(absl::StrFormat("unknown opcode 0x%02x (bits [7:0])", code));
  }
  const FormatDesc& fmt = detail::DescribeFormat(FormatOf(*op));
  Word defined = DefinedBits(fmt);
  Word reserved{};
  bool any_reserved = false;
  for (size_t i = 0; i < kInstructionWords; ++i) {
    reserved[i] = word[i] & ~defined[i];
    any_reserved |= reserved[i] != 0;
  }
  if (any_reserved) {
    return absl::InvalidArgumentError(detail::Cat(Mnemonic(*op), " (format ", fmt.name, "): ",
                                                   DescribeReserved(reserved)));
  }
  Instruction inst = Make(*op);
  detail::FieldValues values{};
  for (size_t i = 0; i < fmt.num_fields; ++i) {
    const FieldDesc& f = fmt.fields[i];
    values[i] = GetBits(word, f.lsb, f.width);
    if (detail::IsEnumKind(f.kind) && !detail::EnumCodeValid(f.kind, values[i])) {
      return absl::InvalidArgumentError(detail::Cat(Mnemonic(*op), ": unknown ",
                                                     detail::FieldKindName(f.kind), " code ", values[i],
                                                     " in field '", f.name, "' (", BitRange(f), ")"));
    }
  }
  detail::SetFieldValues(inst.args, values);
  return inst;
}

absl::StatusOr<std::string> EncodeProgram(const std::vector<Instruction>& code) {
  std::string bytes;
  bytes.reserve(code.size() * kInstructionBytes);
  for (size_t i = 0; i < code.size(); ++i) {
    absl::StatusOr<Word> w = Encode(code[i]);
    if (!w.ok()) {
      return absl::InvalidArgumentError(
          detail::Cat("instruction ", i, ": ", w.status().message()));
    }
    for (uint64_t word : *w) {
      for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>((word >> (8 * b)) & 0xff));
    }
  }
  return bytes;
}

absl::StatusOr<std::vector<Instruction>> DecodeProgram(std::string_view bytes) {
  if (bytes.size() % kInstructionBytes != 0) {
    size_t offset = bytes.size() - bytes.size() % kInstructionBytes;
    return absl::InvalidArgumentError(detail::Cat(
        "truncated instruction stream at byte ", offset, " (instruction ", offset / kInstructionBytes,
        "): ", bytes.size() - offset, " of ", kInstructionBytes, " bytes present"));
  }
  std::vector<Instruction> code;
  code.reserve(bytes.size() / kInstructionBytes);
  for (size_t offset = 0; offset < bytes.size(); offset += kInstructionBytes) {
    Word w{};
    for (size_t i = 0; i < kInstructionBytes; ++i) {
      w[i / 8] |= uint64_t{static_cast<uint8_t>(bytes[offset + i])} << (8 * (i % 8));
    }
    absl::StatusOr<Instruction> inst = Decode(w);
    if (!inst.ok()) {
      return absl::InvalidArgumentError(detail::Cat("at byte ", offset, " (instruction ",
                                                     offset / kInstructionBytes, "): ",
                                                     inst.status().message()));
    }
    code.push_back(*std::move(inst));
  }
  return code;
}

}  // namespace tpusim::isa
