// NumPy .npy reader and writer (format: numpy/lib/format.py). The header is a Python dict literal
// such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }; only that subset of Python
// literal syntax is accepted.
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/tensor_io.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct DescrEntry {
  const char* descr;
  DataType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"<f4", DataType::kFloat32}, {"<i8", DataType::kInt64}, {"<i4", DataType::kInt32},
    {"|i1", DataType::kInt8},    {"|b1", DataType::kBool}, {"|u1", DataType::kUint8},
};

// The parsed header dict. Values are kept raw; the caller checks which keys are present.
struct NpyHeader {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<compiler::Shape> shape;
};

// A cursor over the header text; every error names the origin and the column.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view origin) : text_(text), origin_(origin) {}
  // (origin_ is a std::string: Debian's absl::StrCat takes absl::string_view, not std::string_view.)

  absl::StatusOr<NpyHeader> Parse() {
    NpyHeader header;
    SkipSpace();
    TPUSIM_RETURN_IF_ERROR(Expect('{'));
    while (true) {
      SkipSpace();
      if (Peek() == '}') break;
      TPUSIM_ASSIGN_OR_RETURN(std::string key, ParseString());
      SkipSpace();
      TPUSIM_RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      if (key == "descr") {
        TPUSIM_ASSIGN_OR_RETURN(header.descr, ParseString());
      } else if (key == "fortran_order") {
        TPUSIM_ASSIGN_OR_RETURN(header.fortran_order, ParseBool());
      } else if (key == "shape") {
        TPUSIM_ASSIGN_OR_RETURN(header.shape, ParseTuple());
      } else {
        return Error(absl::StrCat("unexpected key '", key, "'"));
      }
      SkipSpace();
      if (Peek() == ',') ++pos_;
    }
    ++pos_;
    SkipSpace();
    if (pos_ != text_.size()) return Error("text after the closing '}'");
    return header;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(origin_, ": malformed .npy header at column ", pos_, ": ", std::string(what)));
  }
  absl::Status Expect(char c) {
    if (Peek() != c) return Error(absl::StrCat("expected '", std::string(1, c), "'"));
    ++pos_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ParseString() {
    char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  absl::StatusOr<bool> ParseBool() {
    if (text_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (text_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    return Error("expected True or False");
  }
  absl::StatusOr<compiler::Shape> ParseTuple() {
    TPUSIM_RETURN_IF_ERROR(Expect('('));
    compiler::Shape shape;
    while (true) {
      SkipSpace();
      if (Peek() == ')') break;
      if (Peek() < '0' || Peek() > '9') return Error("expected a non-negative integer dimension");
      int64_t dim = 0;
      while (Peek() >= '0' && Peek() <= '9') {
        if (dim > (int64_t{1} << 48)) return Error("dimension too large");
        dim = dim * 10 + (Peek() - '0');
        ++pos_;
      }
      if (Peek() == 'L') ++pos_;  // Python 2 long literal
      shape.push_back(dim);
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
      } else if (Peek() != ')') {
        return Error("expected ',' or ')' in the shape");
      }
    }
    ++pos_;
    return shape;
  }

  std::string_view text_;
  std::string origin_;
  size_t pos_ = 0;
};

uint32_t ReadLe(std::string_view bytes, size_t offset, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  }
  return v;
}

const char* DescrOf(DataType dtype) {
  for (const DescrEntry& e : kDescrs) {
    if (e.dtype == dtype) return e.descr;
  }
  TPUSIM_UNREACHABLE();
}

}  // namespace

absl::StatusOr<compiler::Tensor> ParseNpy(std::string_view bytes, std::string_view origin_view) {
  const std::string origin(origin_view);
  if (bytes.size() < kMagicLen + 2 || bytes.substr(0, kMagicLen) != std::string_view(kMagic, kMagicLen)) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not a .npy file (bad magic)"));
  }
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t len_bytes;
  if (major == 1) {
    len_bytes = 2;
  } else if (major == 2 || major == 3) {
    len_bytes = 4;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": unsupported .npy format version ", major, ".",
                                                   static_cast<int>(static_cast<uint8_t>(bytes[7])),
                                                   " (supported: 1.0, 2.0, 3.0)"));
  }
  const size_t prefix = kMagicLen + 2 + len_bytes;
  if (bytes.size() < prefix) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": truncated .npy header"));
  }
  const size_t header_len = ReadLe(bytes, kMagicLen + 2, len_bytes);
  if (bytes.size() - prefix < header_len) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": truncated .npy header (declares ", header_len,
                                                   " bytes, file has ", bytes.size() - prefix, ")"));
  }
  TPUSIM_ASSIGN_OR_RETURN(NpyHeader header, HeaderParser(bytes.substr(prefix, header_len), origin).Parse());
  if (!header.descr || !header.fortran_order || !header.shape) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": .npy header lacks one of 'descr', 'fortran_order', 'shape'"));
  }
  if (*header.fortran_order) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": fortran_order arrays are not supported (save with numpy.ascontiguousarray)"));
  }
  std::optional<DataType> dtype;
  for (const DescrEntry& e : kDescrs) {
    if (*header.descr == e.descr) dtype = e.dtype;
  }
  if (!dtype) {
    std::vector<std::string> names;
    for (const DescrEntry& e : kDescrs) names.push_back(e.descr);
    return absl::InvalidArgumentError(absl::StrCat(origin, ": unsupported .npy dtype '", *header.descr,
                                                   "' (supported: ", absl::StrJoin(names, ", "), ")"));
  }
  const size_t data_bytes = bytes.size() - prefix - header_len;
  const size_t elem_bytes = compiler::DataTypeBytes(*dtype);
  uint64_t expected = elem_bytes;
  for (int64_t d : *header.shape) {
    if (d != 0 && expected > data_bytes / static_cast<uint64_t>(d)) {
      expected = data_bytes + 1;  // larger than the file: reported below
      break;
    }
    expected *= static_cast<uint64_t>(d);
  }
  if (expected != data_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": .npy data is ", data_bytes, " bytes, but shape ",
                     compiler::ShapeToString(*header.shape), " of ", *header.descr, " needs ",
                     compiler::NumElements(*header.shape) * static_cast<int64_t>(elem_bytes)));
  }
  compiler::Tensor tensor(*dtype, *header.shape);
  if (data_bytes > 0) std::memcpy(tensor.data(), bytes.data() + prefix + header_len, data_bytes);
  return tensor;
}

std::string SerializeNpy(const compiler::Tensor& tensor) {
  std::vector<std::string> dims;
  for (int64_t d : tensor.shape()) dims.push_back(absl::StrCat(d));
  std::string shape = absl::StrJoin(dims, ", ");
  if (dims.size() == 1) shape += ",";
  std::string header = absl::StrCat("{'descr': '", DescrOf(tensor.dtype()),
                                    "', 'fortran_order': False, 'shape': (", shape, "), }");
  // Pad with spaces so that magic + version + length + header (ending in '\n') is a multiple of 64.
  const size_t prefix = kMagicLen + 4;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(tensor.data()), tensor.byte_size());
  return out;
}

}  // namespace tpusim::runtime
