// The Session implementation (session.h), private to runtime/src. Split by responsibility:
//   session.cc          Create: validation, shape inference, devices, the placement log
//   placement.cc        PlaceNodes: the placement rules and the one unsupported-ops error
//   session_segments.cc the execution plan (CPU steps and TPU segments) and segment subgraphs
//   session_run.cc      Run: feeds, CPU host kernels and TPU launches through the driver
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tpusim/driver/driver.h"
#include "tpusim/runtime/metrics.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime::detail {

// XLA-style compile-time constant inputs: the graph inputs read only where the TPU lowering reads at
// compile time (compiler::IsCompileTimeOperand: Reshape's shape, Squeeze's axes, Slice's starts, ...).
// A TPU segment bakes the fed value into its program as a constant (one program per distinct value),
// so such a node is TPU-supported although its output shape may be unknown until Run.
std::set<std::string> FindCompileTimeInputs(const compiler::Graph& graph);

// Places every node (the rules in session.h), with `compile_time_inputs` as given to
// compiler::CheckTpuSupport. Unimplemented listing every op that can run nowhere.
absl::StatusOr<std::vector<Placement>> PlaceNodes(const compiler::Graph& graph, const SessionOptions& options,
                                                  const std::set<std::string>& compile_time_inputs);

// A maximal run of consecutive TPU-placed nodes, run as one program.
struct Segment {
  std::vector<int> nodes;               // indices into graph.nodes, in order
  std::vector<std::string> inputs;      // non-constant values used but not produced here (first use)
  std::vector<std::string> constants;   // constant values used (baked into the program)
  std::vector<std::string> compile_time_inputs;  // fed values used, baked in as constants (first use)
  std::vector<std::string> outputs;     // values produced here that later nodes or graph outputs use
};

// One step of a run: a CPU node (node >= 0) or a TPU segment (segment >= 0).
struct Step {
  int node = -1;
  int segment = -1;
};

struct ExecutionPlan {
  std::vector<Segment> segments;
  std::vector<Step> steps;
  // release_after[s]: computed values no step after s reads and that are not graph outputs (freed
  // from the run's host environment once step s is done).
  std::vector<std::vector<std::string>> release_after;
};

ExecutionPlan PlanExecution(const compiler::Graph& graph, const std::vector<Placement>& placements,
                            const std::set<std::string>& compile_time_inputs);

// The subgraph of `segment`, ready for compiler::Compile: its graph inputs are segment.inputs with the
// dtypes and shapes of `inputs` (same order); segment.compile_time_inputs are constants holding
// `compile_time_values` (same order); shapes inferred. Pointers are borrowed for the call.
absl::StatusOr<compiler::Graph> SegmentSubgraph(const compiler::Graph& graph, const Segment& segment,
                                                const std::vector<const compiler::Tensor*>& inputs,
                                                const std::vector<const compiler::Tensor*>& compile_time_values);

class SessionImpl : public Session {
 public:
  SessionImpl(compiler::Graph graph, SessionOptions options, std::vector<Placement> placements,
              std::set<std::string> compile_time_inputs);
  absl::Status OpenDevices();

  const std::vector<Placement>& placements() const override { return placements_; }
  const compiler::Graph& graph() const override { return graph_; }
  const driver::Device* tpu_device() const override { return tpu_.get(); }
  absl::StatusOr<std::map<std::string, compiler::Tensor>> Run(const std::map<std::string, compiler::Tensor>& feeds,
                                                              RunReport* report) override;

 private:
  // A compiled segment program, loaded on the tpu device.
  struct Loaded {
    isa::Program program;
    std::unique_ptr<driver::Executable> executable;
    std::string label;                    // "TPU segment 0 (a, b)"
    std::vector<isa::Opcode> opcodes;     // per instruction, decoded once at compile
    std::vector<OpCost> op_costs;         // ProgramOpCosts(program), per program.op_names
  };
  // Host-side values of one run: the caller's feeds (borrowed) and the values computed so far;
  // constants are read from graph_.
  struct Env {
    const std::map<std::string, compiler::Tensor>* feeds = nullptr;
    std::map<std::string, compiler::Tensor> computed;
  };

  absl::Status ValidateFeeds(const std::map<std::string, compiler::Tensor>& feeds) const;
  const compiler::Tensor* Lookup(const Env& env, const std::string& name) const;
  absl::Status RunCpuNode(const compiler::Node& node, Env& env, RunReport& report);
  absl::Status RunSegment(int index, Env& env, RunReport& report);
  // The program of segment `index` for these inputs and compile-time values (segment order), compiled
  // and loaded on a cache miss.
  absl::StatusOr<Loaded*> GetProgram(int index, const std::vector<const compiler::Tensor*>& inputs,
                                     const std::vector<const compiler::Tensor*>& compile_time_values,
                                     RunReport& report);
  // A usable stream for `device`: the current one, or a fresh one if a failure made it sticky.
  absl::StatusOr<driver::Stream*> StreamFor(driver::Device& device, std::unique_ptr<driver::Stream>& stream);

  compiler::Graph graph_;
  SessionOptions options_;
  std::vector<Placement> placements_;
  std::set<std::string> compile_time_inputs_;  // FindCompileTimeInputs(graph_)
  ExecutionPlan plan_;
  std::unique_ptr<driver::Device> cpu_;
  std::unique_ptr<driver::Device> tpu_;  // null when options_.device == "cpu"
  std::unique_ptr<driver::Stream> cpu_stream_;
  std::unique_ptr<driver::Stream> tpu_stream_;
  // Compile cache: "segment|input dtypes and shapes|compile-time dtypes, shapes and values" -> program.
  std::map<std::string, Loaded> programs_;
  std::mutex run_mu_;                        // serializes Run
  // Index within the current Run of the TPU launch in flight (RunProgress::launch); written by Run's
  // thread before each launch, read by the progress callback on the stream's worker thread.
  std::atomic<int> launch_index_{0};
};

}  // namespace tpusim::runtime::detail
