// Name tables and lookups for opcodes and enumerated field values, expanded from opcodes.def;
// instruction construction and equality.
#include <array>

#include "format_table.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"
#include "text_util.h"

namespace tpusim::isa {
namespace {

struct OpcodeInfo {
  Opcode opcode;
  Format format;
  Queue queue;
  std::string_view mnemonic;
};

constexpr OpcodeInfo kOpcodes[] = {
#define TPUSIM_OPCODE(NAME, CODE, FORMAT, QUEUE, MNEMONIC) \
  OpcodeInfo{Opcode::NAME, Format::FORMAT, Queue::QUEUE, MNEMONIC},
#include "tpusim/isa/opcodes.def"
};
static_assert(sizeof(kOpcodes) / sizeof(kOpcodes[0]) == kNumOpcodes);

constexpr size_t kNoIndex = ~size_t{0};

// code -> dense table index (kNoIndex for unused codes).
const std::array<size_t, 256>& IndexByCode() {
  static const std::array<size_t, 256> table = [] {
    std::array<size_t, 256> t;
    t.fill(kNoIndex);
    for (size_t i = 0; i < kNumOpcodes; ++i) {
      size_t code = static_cast<uint8_t>(kOpcodes[i].opcode);
      TPUSIM_CHECK(t[code] == kNoIndex, "opcodes.def: duplicate opcode code");
      t[code] = i;
    }
    return t;
  }();
  return table;
}

const OpcodeInfo& InfoOf(Opcode op) {
  size_t index = IndexByCode()[static_cast<uint8_t>(op)];
  TPUSIM_CHECK(index != kNoIndex, "invalid Opcode value");
  return kOpcodes[index];
}

// Enumerated field values: {enum value, code, mnemonic}.
template <typename E> struct EnumEntry {
  E value;
  std::string_view name;
};

constexpr EnumEntry<DType> kDTypes[] = {
#define TPUSIM_DTYPE(NAME, CODE, BYTES, MNEMONIC) {DType::NAME, MNEMONIC},
#include "tpusim/isa/opcodes.def"
};
constexpr size_t kDTypeBytes[] = {
#define TPUSIM_DTYPE(NAME, CODE, BYTES, MNEMONIC) BYTES,
#include "tpusim/isa/opcodes.def"
};
constexpr EnumEntry<ActFunc> kActFuncs[] = {
#define TPUSIM_ACT_FUNC(NAME, CODE, MNEMONIC) {ActFunc::NAME, MNEMONIC},
#include "tpusim/isa/opcodes.def"
};
constexpr EnumEntry<VectorOp> kVectorOps[] = {
#define TPUSIM_VECTOR_OP(NAME, CODE, ARITY, MNEMONIC) {VectorOp::NAME, MNEMONIC},
#include "tpusim/isa/opcodes.def"
};
constexpr VectorArity kVectorOpArity[] = {
#define TPUSIM_VECTOR_OP(NAME, CODE, ARITY, MNEMONIC) VectorArity::ARITY,
#include "tpusim/isa/opcodes.def"
};
constexpr EnumEntry<Queue> kQueues[] = {
#define TPUSIM_QUEUE(NAME, CODE, MNEMONIC) {Queue::NAME, MNEMONIC},
#include "tpusim/isa/opcodes.def"
};

// Index of `value` in `table`, or -1.
template <typename E, size_t N> int Find(const EnumEntry<E> (&table)[N], E value) {
  for (size_t i = 0; i < N; ++i) {
    if (table[i].value == value) return static_cast<int>(i);
  }
  return -1;
}
template <typename E, size_t N> std::optional<E> FromCode(const EnumEntry<E> (&table)[N], uint64_t code) {
  for (const auto& e : table) {
    if (static_cast<uint64_t>(e.value) == code) return e.value;
  }
  return std::nullopt;
}
template <typename E, size_t N> std::string_view NameOf(const EnumEntry<E> (&table)[N], E value) {
  int i = Find(table, value);
  return i < 0 ? std::string_view("<invalid>") : table[i].name;
}

}  // namespace

const std::vector<Opcode>& AllOpcodes() {
  static const std::vector<Opcode> all = [] {
    std::vector<Opcode> v;
    for (const auto& info : kOpcodes) v.push_back(info.opcode);
    return v;
  }();
  return all;
}

size_t OpcodeIndex(Opcode op) {
  size_t index = IndexByCode()[static_cast<uint8_t>(op)];
  TPUSIM_CHECK(index != kNoIndex, "invalid Opcode value");
  return index;
}

std::optional<Opcode> OpcodeFromCode(uint8_t code) {
  size_t index = IndexByCode()[code];
  if (index == kNoIndex) return std::nullopt;
  return kOpcodes[index].opcode;
}

std::string_view Mnemonic(Opcode op) {
  size_t index = IndexByCode()[static_cast<uint8_t>(op)];
  return index == kNoIndex ? std::string_view("<invalid>") : kOpcodes[index].mnemonic;
}

std::optional<Opcode> OpcodeFromMnemonic(std::string_view mnemonic) {
  for (const auto& info : kOpcodes) {
    if (detail::EqualsIgnoreCase(info.mnemonic, mnemonic)) return info.opcode;
  }
  return std::nullopt;
}

Format FormatOf(Opcode op) { return InfoOf(op).format; }
Queue QueueOf(Opcode op) { return InfoOf(op).queue; }
std::string_view FormatName(Format f) { return detail::DescribeFormat(f).name; }

std::string_view DTypeName(DType t) { return NameOf(kDTypes, t); }
size_t DTypeBytes(DType t) {
  int i = Find(kDTypes, t);
  return i < 0 ? 0 : kDTypeBytes[i];
}
std::optional<DType> DTypeFromCode(uint64_t code) { return FromCode(kDTypes, code); }
std::string_view ActFuncName(ActFunc f) { return NameOf(kActFuncs, f); }
std::optional<ActFunc> ActFuncFromCode(uint64_t code) { return FromCode(kActFuncs, code); }
std::string_view VectorOpName(VectorOp op) { return NameOf(kVectorOps, op); }
VectorArity VectorOpArity(VectorOp op) {
  int i = Find(kVectorOps, op);
  TPUSIM_CHECK(i >= 0, "invalid VectorOp value");
  return kVectorOpArity[i];
}
std::optional<VectorOp> VectorOpFromCode(uint64_t code) { return FromCode(kVectorOps, code); }
std::string_view QueueName(Queue q) { return NameOf(kQueues, q); }
std::optional<Queue> QueueFromCode(uint64_t code) { return FromCode(kQueues, code); }

Instruction Make(Opcode op) { return Instruction{op, detail::DefaultArgs(FormatOf(op))}; }

Instruction Make(Opcode op, Args args) {
  std::optional<Format> f = detail::FormatOfArgs(args);
  TPUSIM_CHECK(f.has_value() && *f == FormatOf(op), "Make: args do not match the opcode's format");
  return Instruction{op, std::move(args)};
}

bool operator==(const Instruction& a, const Instruction& b) {
  return a.opcode == b.opcode && a.args.index() == b.args.index() &&
         detail::GetFieldValues(a.args) == detail::GetFieldValues(b.args);
}

}  // namespace tpusim::isa
