// Which LSTM / GRU / RNN nodes the TPU runs (by unrolling, expand_rnn.cc) and the checks they share.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "rnn_internal.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

// Unrolled steps (sequence length x directions) beyond which the program would be too long to be worth
// building: about 20 nodes per step.
constexpr int64_t kMaxUnrolledSteps = 4096;

absl::Status Invalid(const Node& node, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": ", what));
}

const Shape* ShapeOf(const Graph& graph, const Node& node, size_t i) {
  if (!Present(node, i)) return nullptr;
  const Value* v = graph.FindValue(node.inputs[i]);
  if (v == nullptr) return nullptr;
  if (v->constant.has_value()) return &v->constant->shape();
  return v->shape.has_value() ? &*v->shape : nullptr;
}

}  // namespace

absl::StatusOr<RnnSpec> ReadRnnSpec(const Node& node, const Graph& graph) {
  std::vector<const Shape*> shapes;
  for (size_t i = 0; i < node.inputs.size(); ++i) shapes.push_back(ShapeOf(graph, node, i));
  return ReadRnnSpec(node, shapes);
}

absl::StatusOr<std::vector<Shape>> RecurrentShapes(const Node& node, const std::vector<Shape>& in, const Graph&) {
  std::vector<const Shape*> shapes;
  for (size_t i = 0; i < node.inputs.size(); ++i) shapes.push_back(Present(node, i) && i < in.size() ? &in[i] : nullptr);
  TPUSIM_ASSIGN_OR_RETURN(RnnSpec s, ReadRnnSpec(node, shapes));
  const Shape y = s.layout == 0 ? Shape{s.seq, s.dirs, s.batch, s.hidden} : Shape{s.batch, s.seq, s.dirs, s.hidden};
  const Shape state = s.layout == 0 ? Shape{s.dirs, s.batch, s.hidden} : Shape{s.batch, s.dirs, s.hidden};
  std::vector<Shape> out;
  for (size_t i = 0; i < node.outputs.size(); ++i) out.push_back(i == 0 ? y : state);
  return out;
}

absl::StatusOr<RnnSpec> ReadRnnSpec(const Node& node, const std::vector<const Shape*>& shapes) {
  auto shape_of = [&](size_t i) { return i < shapes.size() ? shapes[i] : nullptr; };
  const bool lstm = node.op_type == "LSTM";
  RnnSpec s;
  s.gates = lstm ? 4 : node.op_type == "GRU" ? 3 : 1;
  if (node.inputs.size() < 3 || node.inputs.size() > (lstm ? 8u : 6u)) {
    return Invalid(node, absl::StrCat("has ", node.inputs.size(), " inputs, expected 3 to ", lstm ? 8 : 6));
  }
  std::string direction = "forward";
  if (auto it = node.attrs.find("direction"); it != node.attrs.end()) {
    const std::string* d = std::get_if<std::string>(&it->second);
    if (d == nullptr) return Invalid(node, "attribute 'direction' must be a string");
    direction = *d;
  }
  if (direction == "bidirectional") {
    s.dirs = 2;
  } else if (direction == "reverse") {
    s.reverse_only = true;
  } else if (direction != "forward") {
    return Invalid(node, absl::StrCat("direction '", direction, "' is not forward, reverse or bidirectional"));
  }
  TPUSIM_ASSIGN_OR_RETURN(s.layout, node.GetInt("layout", 0));
  if (s.layout != 0 && s.layout != 1) return Invalid(node, absl::StrCat("layout ", s.layout, " is not 0 or 1"));
  TPUSIM_ASSIGN_OR_RETURN(s.clip, node.GetFloat("clip", 0.0f));
  if (s.clip < 0.0f) return Invalid(node, absl::StrCat("clip ", s.clip, " is negative"));
  TPUSIM_ASSIGN_OR_RETURN(int64_t lbr, node.GetInt("linear_before_reset", 0));
  s.linear_before_reset = lbr != 0;
  TPUSIM_ASSIGN_OR_RETURN(int64_t input_forget, node.GetInt("input_forget", 0));
  if (lstm && input_forget != 0) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": input_forget=1 is not supported"));
  }
  for (size_t i = 0; i < 3; ++i) {
    if (shape_of(i) == nullptr) {
      return Invalid(node, absl::StrCat("input ", i, " is missing or has no known shape"));
    }
  }
  const Shape& x = *shape_of(0);
  const Shape& w = *shape_of(1);
  const Shape& r = *shape_of(2);
  if (x.size() != 3 || w.size() != 3 || r.size() != 3) {
    return Invalid(node, absl::StrCat("X, W, R must have rank 3, got ", ShapeToString(x), ", ", ShapeToString(w),
                                      ", ", ShapeToString(r)));
  }
  s.seq = s.layout == 0 ? x[0] : x[1];
  s.batch = s.layout == 0 ? x[1] : x[0];
  s.input = x[2];
  s.hidden = r[2];
  TPUSIM_ASSIGN_OR_RETURN(int64_t hidden_attr, node.GetInt("hidden_size", s.hidden));
  const int64_t gh = s.gates * s.hidden;
  if (hidden_attr != s.hidden || w != Shape{s.dirs, gh, s.input} || r != Shape{s.dirs, gh, s.hidden}) {
    return Invalid(node, absl::StrCat("W ", ShapeToString(w), " and R ", ShapeToString(r), " do not match X ",
                                      ShapeToString(x), ", hidden_size ", hidden_attr, " and ", s.dirs,
                                      " direction(s)"));
  }
  const Shape state = s.layout == 0 ? Shape{s.dirs, s.batch, s.hidden} : Shape{s.batch, s.dirs, s.hidden};
  const Shape want[] = {{}, {}, {}, {s.dirs, 2 * gh}, {s.batch}, state, state, {s.dirs, 3 * s.hidden}};
  static const char* const kNames[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
  for (size_t i = 3; i < node.inputs.size(); ++i) {
    if (!Present(node, i)) continue;
    const Shape* got = shape_of(i);
    if (got == nullptr) return Invalid(node, absl::StrCat(kNames[i], " has no known shape"));
    if (*got != want[i]) {
      return Invalid(node, absl::StrCat(kNames[i], " has shape ", ShapeToString(*got), ", expected ",
                                        ShapeToString(want[i])));
    }
  }
  if (node.outputs.size() > (lstm ? 3u : 2u)) {
    return Invalid(node, absl::StrCat("has ", node.outputs.size(), " outputs, at most ", lstm ? 3 : 2));
  }
  return s;
}

absl::Status CheckFullSequenceLengths(const Node& node, const Tensor& lens, int64_t seq) {
  for (int64_t b = 0; b < lens.num_elements(); ++b) {
    const int64_t len = lens.dtype() == DataType::kInt32 ? lens.as<int32_t>()[b]
                        : lens.dtype() == DataType::kInt64 ? lens.as<int64_t>()[b] : -1;
    if (len != seq) {
      return absl::UnimplementedError(absl::StrCat(
          node.op_type, " with sequence_lens[", b, "] = ", len, " shorter than the sequence length ", seq,
          " is not supported on the TPU (the unrolled program runs every step for every batch entry)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRecurrentSupport(const Node& node, const Graph& graph,
                                   const std::set<std::string>& compile_time_inputs) {
  absl::StatusOr<RnnSpec> spec = ReadRnnSpec(node, graph);
  if (!spec.ok()) {
    return absl::UnimplementedError(absl::StrCat(node.op_type, " is not supported on the TPU: ",
                                                 spec.status().message()));
  }
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (!Present(node, i) || i == 4) continue;
    const Value* v = graph.FindValue(node.inputs[i]);
    if (v == nullptr || v->dtype != DataType::kFloat32) {
      return absl::UnimplementedError(absl::StrCat(node.op_type, " on non-float32 input ", i,
                                                   " is not supported on the TPU"));
    }
  }
  if (Present(node, 4)) {
    const Value* lens = graph.FindValue(node.inputs[4]);
    if (lens != nullptr && lens->constant.has_value()) {
      TPUSIM_RETURN_IF_ERROR(CheckFullSequenceLengths(node, *lens->constant, spec->seq));
    } else if (compile_time_inputs.count(node.inputs[4]) == 0) {
      return absl::UnimplementedError(absl::StrCat(
          node.op_type, " with a sequence_lens computed at run time is not supported on the TPU"));
    }
  }
  if (spec->seq < 1 || spec->batch < 1) {
    return absl::UnimplementedError(absl::StrCat(node.op_type, " with an empty sequence or batch is not supported on the TPU"));
  }
  if (spec->seq * spec->dirs > kMaxUnrolledSteps) {
    return absl::UnimplementedError(absl::StrCat(node.op_type, " over ", spec->seq, " steps x ", spec->dirs,
                                                 " direction(s) is not supported on the TPU (unrolled, at most ",
                                                 kMaxUnrolledSteps, " steps)"));
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::detail
