// Trainer (training.h): the step graph (forward + gradients + SGD with momentum), its session, and the
// host copies of parameters and velocities that each step feeds and reads back.
#include "tpusim/runtime/training.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime {
namespace {

using compiler::Graph;
using compiler::Node;
using compiler::Tensor;

constexpr char kLearningRate[] = "train/learning_rate";
constexpr char kMomentum[] = "train/momentum";

std::string VelocityName(const std::string& p) { return p + "/velocity"; }
std::string UpdatedName(const std::string& p) { return p + "/updated"; }
std::string VelocityUpdatedName(const std::string& p) { return p + "/velocity_updated"; }

// Turns each parameter into a graph input (a constant loses its value; the caller keeps it).
absl::Status ParametersToInputs(Graph& graph, const std::vector<std::string>& parameters) {
  for (const std::string& p : parameters) {
    auto it = graph.values.find(p);
    if (it == graph.values.end()) return absl::InvalidArgumentError(absl::StrCat("training: unknown parameter '", p, "'"));
    if (it->second.constant.has_value()) {
      it->second.shape = it->second.constant->shape();
      it->second.constant.reset();
    }
    if (!it->second.shape.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("training: parameter '", p, "' has no known shape"));
    }
    if (std::find(graph.inputs.begin(), graph.inputs.end(), p) == graph.inputs.end()) graph.inputs.push_back(p);
  }
  return absl::OkStatus();
}

void AddNode(Graph& graph, const std::string& name, const std::string& op, std::vector<std::string> inputs,
             const std::string& output, const compiler::Shape& shape) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = {output};
  graph.AddValue(output, compiler::DataType::kFloat32, shape);
  graph.nodes.push_back(std::move(n));
}

absl::Status CheckFreeName(const Graph& graph, const std::string& name) {
  if (graph.FindValue(name) != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("training: the model already has a value named '", name, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<float> ScalarOf(const std::map<std::string, Tensor>& outputs, const std::string& name) {
  auto it = outputs.find(name);
  if (it == outputs.end() || it->second.num_elements() != 1 || it->second.dtype() != compiler::DataType::kFloat32) {
    return absl::InternalError(absl::StrCat("training: the step returned no scalar '", name, "'"));
  }
  return it->second.as<float>()[0];
}

// Keeps only the nodes the graph outputs need, and only the graph inputs they read.
void PruneToOutputs(Graph& graph) {
  std::set<std::string> live(graph.outputs.begin(), graph.outputs.end());
  std::vector<Node> kept;
  for (auto it = graph.nodes.rbegin(); it != graph.nodes.rend(); ++it) {
    bool used = false;
    for (const std::string& out : it->outputs) used = used || live.count(out) != 0;
    if (!used) continue;
    live.insert(it->inputs.begin(), it->inputs.end());
    kept.push_back(std::move(*it));
  }
  graph.nodes.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
  std::vector<std::string> inputs;
  for (const std::string& in : graph.inputs) {
    if (live.count(in) != 0) inputs.push_back(in);
  }
  graph.inputs = std::move(inputs);
}

}  // namespace

absl::StatusOr<Graph> BuildTrainingStepGraph(Graph model, const std::string& loss,
                                             const std::vector<std::string>& parameters,
                                             compiler::GradientResult* gradients) {
  TPUSIM_RETURN_IF_ERROR(ParametersToInputs(model, parameters));
  for (const std::string& name : {std::string(kLearningRate), std::string(kMomentum)}) {
    TPUSIM_RETURN_IF_ERROR(CheckFreeName(model, name));
  }
  for (const std::string& p : parameters) {
    for (const std::string& name : {VelocityName(p), UpdatedName(p), VelocityUpdatedName(p)}) {
      TPUSIM_RETURN_IF_ERROR(CheckFreeName(model, name));
    }
  }
  compiler::GradientOptions options;
  options.add_to_outputs = false;
  TPUSIM_ASSIGN_OR_RETURN(compiler::GradientResult result, compiler::AppendGradients(model, loss, parameters, options));
  model.AddValue(kLearningRate, compiler::DataType::kFloat32, compiler::Shape{1});
  model.AddValue(kMomentum, compiler::DataType::kFloat32, compiler::Shape{1});
  model.inputs.push_back(kLearningRate);
  model.inputs.push_back(kMomentum);
  model.outputs = {loss};
  std::vector<std::string> velocity_outputs;
  for (const std::string& p : parameters) {
    const compiler::Shape shape = *model.FindValue(p)->shape;
    const std::string v = VelocityName(p);
    model.AddValue(v, compiler::DataType::kFloat32, shape);
    model.inputs.push_back(v);
    const std::string stem = "train/" + p;
    AddNode(model, stem + "/momentum_mul", "Mul", {v, kMomentum}, stem + "/momentum_mul", shape);
    AddNode(model, stem + "/velocity", "Add", {stem + "/momentum_mul", result.gradients.at(p)}, VelocityUpdatedName(p), shape);
    AddNode(model, stem + "/step", "Mul", {VelocityUpdatedName(p), kLearningRate}, stem + "/step", shape);
    AddNode(model, stem + "/update", "Sub", {p, stem + "/step"}, UpdatedName(p), shape);
    model.outputs.push_back(UpdatedName(p));
    velocity_outputs.push_back(VelocityUpdatedName(p));
  }
  model.outputs.insert(model.outputs.end(), velocity_outputs.begin(), velocity_outputs.end());
  TPUSIM_RETURN_IF_ERROR(model.Validate());
  if (gradients != nullptr) *gradients = std::move(result);
  return model;
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(Graph model, const std::string& loss,
                                                         const std::vector<std::string>& parameters,
                                                         TrainerOptions options,
                                                         std::map<std::string, Tensor> initial_values) {
  std::unique_ptr<Trainer> t(new Trainer());
  t->loss_ = loss;
  t->order_ = parameters;
  t->learning_rate_ = options.learning_rate;
  t->momentum_ = options.momentum;
  for (const std::string& p : parameters) {
    const compiler::Value* v = model.FindValue(p);
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat("training: unknown parameter '", p, "'"));
    auto init = initial_values.find(p);
    if (init != initial_values.end()) {
      t->params_[p] = init->second;
    } else if (v->constant.has_value()) {
      t->params_[p] = *v->constant;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("training: parameter '", p, "' has no initial value"));
    }
    t->velocity_[p] = Tensor(compiler::DataType::kFloat32, t->params_[p].shape());
  }
  Graph eval = model;
  TPUSIM_RETURN_IF_ERROR(ParametersToInputs(eval, parameters));
  PruneToOutputs(eval);
  TPUSIM_ASSIGN_OR_RETURN(Graph step, BuildTrainingStepGraph(std::move(model), loss, parameters, &t->gradients_));
  TPUSIM_ASSIGN_OR_RETURN(t->step_, Session::Create(std::move(step), options.session));
  SessionOptions eval_options = options.session;
  eval_options.log_device_placement = false;
  TPUSIM_ASSIGN_OR_RETURN(t->eval_, Session::Create(std::move(eval), eval_options));
  return t;
}

absl::StatusOr<float> Trainer::Step(const std::map<std::string, Tensor>& feeds, RunReport* report) {
  std::map<std::string, Tensor> all = feeds;
  for (const std::string& p : order_) {
    all[p] = params_.at(p);
    all[VelocityName(p)] = velocity_.at(p);
  }
  all[kLearningRate] = Tensor::FromFloats({1}, {learning_rate_});
  all[kMomentum] = Tensor::FromFloats({1}, {momentum_});
  TPUSIM_ASSIGN_OR_RETURN(auto outputs, step_->Run(all, report));
  TPUSIM_ASSIGN_OR_RETURN(float loss, ScalarOf(outputs, loss_));
  for (const std::string& p : order_) {
    auto w = outputs.find(UpdatedName(p));
    auto v = outputs.find(VelocityUpdatedName(p));
    if (w == outputs.end() || v == outputs.end()) {
      return absl::InternalError(absl::StrCat("training: the step returned no update of '", p, "'"));
    }
    params_[p] = std::move(w->second);
    velocity_[p] = std::move(v->second);
  }
  ++steps_;
  return loss;
}

absl::StatusOr<std::map<std::string, Tensor>> Trainer::Evaluate(const std::map<std::string, Tensor>& feeds,
                                                                 RunReport* report) {
  std::map<std::string, Tensor> all = feeds;
  const std::vector<std::string>& inputs = eval_->graph().inputs;
  for (const std::string& p : order_) {
    if (std::find(inputs.begin(), inputs.end(), p) != inputs.end()) all[p] = params_.at(p);
  }
  for (auto it = all.begin(); it != all.end();) {  // feeds the pruned model does not read
    it = std::find(inputs.begin(), inputs.end(), it->first) == inputs.end() ? all.erase(it) : std::next(it);
  }
  return eval_->Run(all, report);
}

}  // namespace tpusim::runtime
