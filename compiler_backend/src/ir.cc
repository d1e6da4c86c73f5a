// Graph IR: data types, shapes, host tensors, typed attribute access and graph validation.
#include "tpusim/compiler_backend/ir.h"

#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {

std::string_view DataTypeName(DataType t) {
  switch (t) {
    case DataType::kFloat32: return "float32";
    case DataType::kInt8: return "int8";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
    case DataType::kBool: return "bool";
    case DataType::kUint8: return "uint8";
  }
  TPUSIM_UNREACHABLE();
}

size_t DataTypeBytes(DataType t) {
  switch (t) {
    case DataType::kFloat32: return 4;
    case DataType::kInt8: return 1;
    case DataType::kInt32: return 4;
    case DataType::kInt64: return 8;
    case DataType::kBool: return 1;
    case DataType::kUint8: return 1;
  }
  TPUSIM_UNREACHABLE();
}

// Saturates at INT64_MAX instead of overflowing, so shapes from untrusted models stay well defined;
// shape inference rejects anything near that bound.
int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == 0) return 0;
  }
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n)) return std::numeric_limits<int64_t>::max();
  }
  return n;
}

std::string ShapeToString(const Shape& shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

Tensor::Tensor(DataType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  for (int64_t d : shape_) TPUSIM_CHECK(d >= 0, "Tensor: negative dimension");
  bytes_.assign(static_cast<size_t>(NumElements(shape_)) * DataTypeBytes(dtype_), 0);
}

Tensor Tensor::FromFloats(Shape shape, std::vector<float> values) {
  Tensor t(DataType::kFloat32, std::move(shape));
  TPUSIM_CHECK(static_cast<int64_t>(values.size()) == t.num_elements(),
               "Tensor::FromFloats: value count differs from the shape's element count");
  if (!values.empty()) std::memcpy(t.data(), values.data(), t.byte_size());
  return t;
}

Tensor Tensor::FromInt64s(Shape shape, std::vector<int64_t> values) {
  Tensor t(DataType::kInt64, std::move(shape));
  TPUSIM_CHECK(static_cast<int64_t>(values.size()) == t.num_elements(),
               "Tensor::FromInt64s: value count differs from the shape's element count");
  if (!values.empty()) std::memcpy(t.data(), values.data(), t.byte_size());
  return t;
}

absl::StatusOr<Tensor> Tensor::Reshaped(Shape shape) const {
  for (int64_t d : shape) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat("cannot reshape to ", ShapeToString(shape),
                                                              ": negative dimension"));
  }
  if (NumElements(shape) != num_elements()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot reshape a ", ShapeToString(shape_), " tensor (",
                                                   num_elements(), " elements) to ", ShapeToString(shape),
                                                   " (", NumElements(shape), " elements)"));
  }
  Tensor out = *this;
  out.shape_ = std::move(shape);
  return out;
}

namespace detail {
std::string NodeLabel(const Node& node) { return absl::StrCat("node '", node.name, "' (", node.op_type, ")"); }
}  // namespace detail

namespace {
using detail::NodeLabel;

// Index of each alternative of Attribute, for error messages.
const char* AttributeKindName(const Attribute& a) {
  switch (a.index()) {
    case 0: return "int";
    case 1: return "float";
    case 2: return "string";
    case 3: return "ints";
    case 4: return "floats";
    case 5: return "tensor";
  }
  TPUSIM_UNREACHABLE();
}

// Looks up `key` and returns it as T, the default when absent, or InvalidArgument.
template <typename T>
absl::StatusOr<T> GetTyped(const Node& node, const std::string& key, std::optional<T> dflt,
                           const char* wanted) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) {
    if (dflt.has_value()) return *std::move(dflt);
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": missing attribute '", key, "'"));
  }
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": attribute '", key, "' is ",
                                                 AttributeKindName(it->second), ", expected ", wanted));
}

}  // namespace

absl::StatusOr<int64_t> Node::GetInt(const std::string& key, std::optional<int64_t> dflt) const {
  return GetTyped<int64_t>(*this, key, dflt, "int");
}

absl::StatusOr<float> Node::GetFloat(const std::string& key, std::optional<float> dflt) const {
  return GetTyped<float>(*this, key, dflt, "float");
}

absl::StatusOr<std::vector<int64_t>> Node::GetInts(const std::string& key,
                                                   std::optional<std::vector<int64_t>> dflt) const {
  return GetTyped<std::vector<int64_t>>(*this, key, std::move(dflt), "ints");
}

const Value* Graph::FindValue(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

Value& Graph::AddValue(const std::string& name, DataType dtype, std::optional<Shape> shape) {
  Value& v = values[name];
  v.name = name;
  v.dtype = dtype;
  v.shape = std::move(shape);
  return v;
}

absl::Status Graph::Validate() const {
  for (const auto& [name, value] : values) {
    if (value.name != name) {
      return absl::InvalidArgumentError(
          absl::StrCat("value '", name, "' is stored under a different name ('", value.name, "')"));
    }
    if (value.constant.has_value() && value.shape.has_value() && *value.shape != value.constant->shape()) {
      return absl::InvalidArgumentError(absl::StrCat("constant '", name, "' has shape ",
                                                     ShapeToString(value.constant->shape()),
                                                     " but its value says ", ShapeToString(*value.shape)));
    }
  }
  // Names available so far: graph inputs, constants, then each node's outputs in order.
  std::set<std::string> available;
  for (const std::string& in : inputs) {
    const Value* v = FindValue(in);
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat("graph input '", in, "' has no value"));
    if (v->constant.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("graph input '", in, "' is also a constant"));
    }
    if (!available.insert(in).second) {
      return absl::InvalidArgumentError(absl::StrCat("graph input '", in, "' is listed twice"));
    }
  }
  for (const auto& [name, value] : values) {
    if (value.constant.has_value()) available.insert(name);
  }
  std::set<std::string> node_names;
  for (const Node& node : nodes) {
    if (node.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("a ", node.op_type, " node has no name"));
    }
    if (!node_names.insert(node.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("node name '", node.name, "' is used twice"));
    }
    for (const std::string& in : node.inputs) {
      if (in.empty()) continue;
      if (FindValue(in) == nullptr || available.count(in) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input '", in,
                                                       "' is not a graph input, a constant or the output of "
                                                       "an earlier node"));
      }
    }
    for (const std::string& out : node.outputs) {
      if (out.empty()) continue;
      if (FindValue(out) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": output '", out, "' has no value"));
      }
      if (!available.insert(out).second) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": output '", out,
                                                       "' is already produced elsewhere"));
      }
    }
  }
  for (const std::string& out : outputs) {
    if (available.count(out) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("graph output '", out, "' is never produced"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler
