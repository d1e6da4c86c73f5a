// Building the replacement nodes of a compile-time graph rewrite (expand_rnn.cc unrolls recurrent
// nodes, expand_batchnorm_training.cc expands training-mode BatchNormalization): fresh value and node
// names "<origin>/<hint>_<k>" that collide with nothing in the graph, float32 constants added as graph
// values, and nodes appended to `out` with their output value (float32, the given shape) declared.
// Not a public header.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::detail {

class NodeEmitter {
 public:
  // `origin`: the node being replaced (names, requested device); `out` receives the new nodes.
  NodeEmitter(Graph& graph, const Node& origin, std::vector<Node>& out) : g_(graph), origin_(origin), out_(out) {}

  const Shape& ShapeOf(const std::string& name) const { return *g_.FindValue(name)->shape; }
  bool IsConst(const std::string& name) const { return g_.FindValue(name)->constant.has_value(); }

  std::string Fresh(const std::string& hint) {
    std::string name;
    do {
      name = absl::StrCat(origin_.name, "/", hint, "_", counter_++);
    } while (g_.values.count(name) != 0 || names_.count(name) != 0);
    names_.insert(name);
    return name;
  }

  std::string Constant(Tensor t) {
    const std::string name = Fresh("const");
    Value& v = g_.AddValue(name, t.dtype(), t.shape());
    v.constant = std::move(t);
    return name;
  }

  // An int64 1-D constant (shapes, axes, starts).
  std::string Ints(const std::vector<int64_t>& v) {
    return Constant(Tensor::FromInt64s({static_cast<int64_t>(v.size())}, v));
  }

  // One node producing one float32 output of `shape` (named `out`, or a fresh name); returns its name.
  std::string Emit(const std::string& op, std::vector<std::string> inputs, const Shape& shape,
                   std::map<std::string, Attribute> attrs = {}, std::string out = "", int opset = 13) {
    Node node;
    node.name = Fresh(op);
    node.op_type = op;
    node.inputs = std::move(inputs);
    if (out.empty()) out = Fresh("v");
    node.outputs = {out};
    node.attrs = std::move(attrs);
    node.opset = opset;
    node.requested_device = origin_.requested_device;
    Value& v = g_.values[out];
    v.name = out;
    v.dtype = DataType::kFloat32;
    v.shape = shape;
    out_.push_back(std::move(node));
    return out;
  }

 protected:
  Graph& g_;

 private:
  const Node& origin_;
  std::vector<Node>& out_;
  std::set<std::string> names_;
  int counter_ = 0;
};

}  // namespace tpusim::compiler::detail
