// ONNX attributes -> IR attributes, and the value of a Constant node.
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

// Old exporters leave AttributeProto.type UNDEFINED; the set field tells the kind.
onnx::AttributeProto::AttributeType KindOf(const onnx::AttributeProto& a) {
  if (a.type() != onnx::AttributeProto::UNDEFINED) return a.type();
  if (a.has_i()) return onnx::AttributeProto::INT;
  if (a.has_f()) return onnx::AttributeProto::FLOAT;
  if (a.has_s()) return onnx::AttributeProto::STRING;
  if (a.has_t()) return onnx::AttributeProto::TENSOR;
  if (a.ints_size() > 0) return onnx::AttributeProto::INTS;
  if (a.floats_size() > 0) return onnx::AttributeProto::FLOATS;
  return onnx::AttributeProto::UNDEFINED;
}

}  // namespace

absl::StatusOr<std::optional<Attribute>> AttributeFromProto(const onnx::AttributeProto& proto,
                                                            const std::string& where) {
  switch (KindOf(proto)) {
    case onnx::AttributeProto::INT: return Attribute(static_cast<int64_t>(proto.i()));
    case onnx::AttributeProto::FLOAT: return Attribute(proto.f());
    case onnx::AttributeProto::STRING: return Attribute(proto.s());
    case onnx::AttributeProto::INTS:
      return Attribute(std::vector<int64_t>(proto.ints().begin(), proto.ints().end()));
    case onnx::AttributeProto::FLOATS:
      return Attribute(std::vector<float>(proto.floats().begin(), proto.floats().end()));
    case onnx::AttributeProto::TENSOR: {
      TPUSIM_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(proto.t(), absl::StrCat(where, ": attribute '",
                                                                               proto.name(), "'")));
      return Attribute(std::move(t));
    }
    default: return std::optional<Attribute>();
  }
}

absl::StatusOr<Tensor> ConstantNodeValue(const Node& node) {
  static constexpr const char* kKeys[] = {"value", "value_float", "value_floats", "value_int", "value_ints"};
  const char* found = nullptr;
  for (const char* key : kKeys) {
    if (node.attrs.count(key) == 0) continue;
    if (found != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": has both '", found, "' and '", key,
                                                     "'; a Constant carries exactly one value"));
    }
    found = key;
  }
  if (found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        NodeLabel(node), ": needs one of value, value_float, value_floats, value_int, value_ints "
                         "(sparse_value and string values are not supported)"));
  }
  const std::string key = found;
  const Attribute& attr = node.attrs.at(key);
  auto wrong_kind = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": attribute '", key, "' has the wrong kind"));
  };
  if (key == "value") {
    if (const Tensor* t = std::get_if<Tensor>(&attr)) return *t;
    return wrong_kind();
  }
  if (key == "value_float") {
    if (const float* f = std::get_if<float>(&attr)) return Tensor::FromFloats({}, {*f});
    return wrong_kind();
  }
  if (key == "value_floats") {
    if (const auto* v = std::get_if<std::vector<float>>(&attr)) {
      return Tensor::FromFloats({static_cast<int64_t>(v->size())}, *v);
    }
    return wrong_kind();
  }
  if (key == "value_int") {
    if (const int64_t* i = std::get_if<int64_t>(&attr)) return Tensor::FromInt64s({}, {*i});
    return wrong_kind();
  }
  if (const auto* v = std::get_if<std::vector<int64_t>>(&attr)) {
    return Tensor::FromInt64s({static_cast<int64_t>(v->size())}, *v);
  }
  return wrong_kind();
}

}  // namespace tpusim::compiler::detail
