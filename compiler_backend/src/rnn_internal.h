// LSTM, GRU and RNN on the TPU (not a public header): the support check (rnn_support.cc) and the
// compile-time unrolling into ops the codegen lowers (expand_rnn.cc). Compile() expands recurrent
// nodes before anything else, so no lowering ever sees them.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::detail {

inline bool IsRecurrentOp(std::string_view op) { return op == "LSTM" || op == "GRU" || op == "RNN"; }

// The dimensions and attributes of one recurrent node, validated against its input shapes.
struct RnnSpec {
  int gates = 1;  // LSTM 4 (i, o, f, c), GRU 3 (z, r, h), RNN 1
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1;
  bool reverse_only = false;
  int64_t layout = 0;  // 0: [seq, batch, ...]; 1: batch first
  float clip = 0.0f;   // 0: none
  bool linear_before_reset = false;
};

// Reads and checks the node (shapes of X, W, R and the optional inputs must be known): InvalidArgument
// for malformed nodes, Unimplemented naming the feature for LSTM input_forget=1.
absl::StatusOr<RnnSpec> ReadRnnSpec(const Node& node, const Graph& graph);
// The same from input shapes aligned with node.inputs (nullptr: absent or unknown).
absl::StatusOr<RnnSpec> ReadRnnSpec(const Node& node, const std::vector<const Shape*>& shapes);

// Shape function (shape_inference.cc): Y [seq, dirs, batch, H] (layout 1: [batch, seq, dirs, H]),
// Y_h and Y_c [dirs, batch, H] (layout 1: [batch, dirs, H]), one per node output slot.
absl::StatusOr<std::vector<Shape>> RecurrentShapes(const Node& node, const std::vector<Shape>& in, const Graph& graph);

// OK if every sequence_lens entry equals `seq` (the only case the unrolled program computes);
// Unimplemented naming the first shorter entry otherwise.
absl::Status CheckFullSequenceLengths(const Node& node, const Tensor& lens, int64_t seq);

// CheckTpuSupport's rule for recurrent nodes (Unimplemented with the reason). sequence_lens (input 4)
// is a compile-time operand: a constant, or a graph input in `compile_time_inputs`.
absl::Status CheckRecurrentSupport(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs);

bool HasRecurrentNodes(const Graph& graph);
// A copy of `graph` with every recurrent node replaced by its unrolled equivalent (nodes named
// "<rnn node>/<op>_<k>", same outputs). Shapes of the recurrent nodes' inputs must be known or
// inferable from the nodes before them.
absl::StatusOr<Graph> ExpandRecurrentNodes(const Graph& graph);
// Compile() of a graph with recurrent nodes: ExpandRecurrentNodes, Compile, then the instructions of
// each unrolled node are attributed to the recurrent node it came from (program op_names), so reports
// show one row per LSTM/GRU/RNN.
absl::StatusOr<isa::Program> CompileRecurrent(const Graph& graph, const CompileOptions& options);

}  // namespace tpusim::compiler::detail
