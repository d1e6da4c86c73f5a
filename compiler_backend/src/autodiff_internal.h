// Internals of the reverse-mode AD pass (autodiff.h): the node emitter the gradient rules use, and the
// rule registry. Not a public header.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::detail {

// Appends nodes and constants to a graph, each output's dtype and shape inferred on the spot (so the
// rules can read the shapes of what they emitted). Every name starts with the pass's prefix.
class GradEmitter {
 public:
  GradEmitter(Graph& graph, std::string prefix) : graph_(graph), prefix_(std::move(prefix)) {}

  // One node with one output; returns the output value's name.
  absl::StatusOr<std::string> Op(const std::string& op_type, std::vector<std::string> inputs,
                                 std::map<std::string, Attribute> attrs = {});
  std::string Const(Tensor value);
  std::string Ints(std::vector<int64_t> values);                   // 1-D int64 constant
  std::string Fill(const Shape& shape, float value);               // float32 constant
  std::string Scalar(float value) { return Fill({}, value); }      // rank-0 float32 constant
  // A constant holding `value` with x's rank and all dims 1, so that x * it keeps x's shape.
  std::string Like(const std::string& x, float value);
  const Shape& ShapeOf(const std::string& value) const;  // the value must have a known shape

  // Common gradient building blocks.
  absl::StatusOr<std::string> Scale(const std::string& x, float factor);  // x * factor (x if factor == 1)
  absl::StatusOr<std::string> Reshape(const std::string& x, const Shape& shape);
  absl::StatusOr<std::string> Transpose(const std::string& x, std::vector<int64_t> perm);
  // Sums g (shape of a broadcast result) down to `target`, the shape of the operand that was broadcast.
  absl::StatusOr<std::string> SumTo(const std::string& g, const Shape& target);
  // ReduceSum of x over `axes`, keeping dims.
  absl::StatusOr<std::string> SumKeep(const std::string& x, std::vector<int64_t> axes);
  // 1 where d == 0, 0 where d > 0 (d >= 0 elementwise): 1 - Clip(d * 2^126 * 2^126, 0, 1).
  absl::StatusOr<std::string> ZeroMask(const std::string& d);
  // 1 where y > 0, 0 where y == 0 (y >= 0 elementwise).
  absl::StatusOr<std::string> PositiveMask(const std::string& y);
  // out[.., r, ..] = x[.., index[r], ..] along `axis` where index[r] >= 0, else 0: a Gather from
  // Concat(x, zeros) with the zero row at the end (exact copies).
  absl::StatusOr<std::string> GatherOrZero(const std::string& x, int64_t axis, const std::vector<int64_t>& index);

  int nodes_added() const { return nodes_added_; }

 private:
  std::string NewName(const std::string& stem);

  Graph& graph_;
  std::string prefix_;
  int counter_ = 0;
  int nodes_added_ = 0;
};

// What a rule sees of the pass.
struct GradContext {
  const Graph* graph = nullptr;
  const std::map<std::string, bool>* needs = nullptr;  // value -> depends on a parameter (gradient wanted)
  const std::map<std::string, int>* readers = nullptr;         // value -> number of node inputs reading it
  const std::map<std::string, const Node*>* producer = nullptr;  // value -> node producing it
  bool Needs(const std::string& value) const;
  int Readers(const std::string& value) const;
  const Node* Producer(const std::string& value) const;
};

// A gradient contribution: d loss / d value += grad.
using Contribution = std::pair<std::string, std::string>;

// A rule: given the gradients of the node's outputs (aligned with node.outputs, "" where none flows),
// emits nodes and appends contributions for the node's inputs that ctx.Needs (it may also skip over a
// producer, e.g. Log(Softmax) contributes to the Softmax's input). Unimplemented for unsupported
// attribute combinations.
using GradRule = absl::Status (*)(const GradContext& ctx, const Node& node, const std::vector<std::string>& out_grads,
                                  GradEmitter& e, std::vector<Contribution>* contributions);

GradRule FindGradRule(const std::string& op_type);           // nullptr when there is none
std::vector<std::string> GradRuleOps();
// Rules defined in autodiff_conv.cc.
absl::Status ConvGrad(const GradContext& ctx, const Node& node, const std::vector<std::string>& out_grads,
                      GradEmitter& e, std::vector<Contribution>* contributions);
absl::Status MaxPoolGrad(const GradContext& ctx, const Node& node, const std::vector<std::string>& out_grads,
                         GradEmitter& e, std::vector<Contribution>* contributions);

}  // namespace tpusim::compiler::detail
