// Training on the TPU: a Trainer turns a forward graph with a scalar loss into one training-step graph
// (forward + the reverse-mode gradient subgraph of compiler::AppendGradients + SGD with momentum as
// graph ops), builds a Session for it once, and runs one step per batch.
//
//   Trainer::Create(model, "loss", {"w1", "b1", "w2", "b2"}, options)
//   for each batch: trainer->Step({{"x", x}, {"labels", onehot}})   -> loss before the update
//   trainer->Evaluate({{"x", x_test}})                              -> the model's outputs
//
// The update, per parameter w with velocity v (zero at Create), learning rate lr and momentum mu:
//   v <- mu * v + dloss/dw ;  w <- w - lr * v          (PyTorch's SGD with momentum, dampening 0)
// lr and mu are graph inputs of shape [1] (changing them does not recompile).
//
// Where parameters live: the Session API runs a graph on host tensors in and out (it owns its device
// buffers per Run and exposes none), so parameters and velocities are graph inputs copied to the device
// and the updated ones copied back every step; the Trainer keeps them on the host between steps.
//
// Threading: a Trainer is used by one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/autodiff.h"
#include "tpusim/compiler_backend/ir.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {

struct TrainerOptions {
  SessionOptions session;  // the step's and Evaluate's session (device, engine, arch, precision, ...)
  float learning_rate = 0.01f;
  float momentum = 0.9f;
};

class Trainer {
 public:
  // `model`: a forward graph whose `loss` value is float32 with one element; `parameters`: values of
  // the model that are constants (initializers: their value is the initial parameter) or graph inputs
  // (then `initial_values` must hold them; it may also override constants). Fails like
  // compiler::AppendGradients and Session::Create, and InvalidArgument for a parameter without a value.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(compiler::Graph model, const std::string& loss,
                                                         const std::vector<std::string>& parameters,
                                                         TrainerOptions options,
                                                         std::map<std::string, compiler::Tensor> initial_values = {});

  // One step: feeds every non-parameter input of the model (data, labels), updates the parameters
  // and returns the loss computed before the update.
  absl::StatusOr<float> Step(const std::map<std::string, compiler::Tensor>& feeds, RunReport* report = nullptr);

  // The model's outputs (graph.outputs of the model given to Create) with the current parameters;
  // `feeds` as for Step; the evaluated graph is pruned to what the outputs need, so feeds it does not
  // read (labels, when no output needs them) may be given or left out.
  absl::StatusOr<std::map<std::string, compiler::Tensor>> Evaluate(const std::map<std::string, compiler::Tensor>& feeds,
                                                                   RunReport* report = nullptr);

  void set_learning_rate(float lr) { learning_rate_ = lr; }
  float learning_rate() const { return learning_rate_; }
  const std::map<std::string, compiler::Tensor>& parameters() const { return params_; }
  // The step graph (forward, gradients, updates) and where its ops run.
  const compiler::Graph& step_graph() const { return step_->graph(); }
  const std::vector<Placement>& step_placements() const { return step_->placements(); }
  // Gradient value of each parameter in the step graph.
  const std::map<std::string, std::string>& gradient_values() const { return gradients_.gradients; }
  int steps_done() const { return steps_; }

 private:
  Trainer() = default;

  std::unique_ptr<Session> step_;
  std::unique_ptr<Session> eval_;
  std::string loss_;
  std::vector<std::string> order_;  // parameter names in Create order
  std::map<std::string, compiler::Tensor> params_;
  std::map<std::string, compiler::Tensor> velocity_;
  compiler::GradientResult gradients_;
  float learning_rate_ = 0.01f;
  float momentum_ = 0.9f;
  int steps_ = 0;
};

// The step graph without a session: `model` with the parameters turned into graph inputs, gradients
// appended and, per parameter p, inputs "p/velocity", outputs "p/updated" and "p/velocity_updated";
// inputs "train/learning_rate", "train/momentum" ([1]); outputs: loss first, then the updates in
// `parameters` order. Exposed for tests and tools that want to inspect or place it themselves.
absl::StatusOr<compiler::Graph> BuildTrainingStepGraph(compiler::Graph model, const std::string& loss,
                                                       const std::vector<std::string>& parameters,
                                                       compiler::GradientResult* gradients = nullptr);

}  // namespace tpusim::runtime
