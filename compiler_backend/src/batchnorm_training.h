// Training-mode BatchNormalization on the TPU (expand_batchnorm_training.cc): a compile-time rewrite
// into existing TPU ops. Private to compiler_backend/src.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "isa/proto/program.pb.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::detail {

// True for a BatchNormalization node with training_mode=1.
bool IsTrainingBatchNormNode(const Node& node);
bool HasTrainingBatchNorm(const Graph& graph);
// CheckTpuSupport's rule for such a node: OK, or Unimplemented naming what is not lowered (opset < 14,
// non-float32 parameters, rank < 2).
absl::Status CheckBatchNormTrainingSupport(const Node& node, const Graph& graph);
// Shape function of BatchNormalization for any output count: Y = X's shape, then [C] per output.
absl::StatusOr<std::vector<Shape>> BatchNormShapes(const Node& node, const std::vector<Shape>& in, const Graph& graph);
// A copy of `graph` with every training-mode BatchNormalization replaced by its expansion (same outputs).
absl::StatusOr<Graph> ExpandTrainingBatchNorms(const Graph& graph);
// Compile() of a graph with training-mode BatchNormalization nodes: expand, Compile, then attribute the
// expansion's instructions to the BatchNormalization node (program op_names).
absl::StatusOr<isa::Program> CompileBatchNormTraining(const Graph& graph, const CompileOptions& options);

}  // namespace tpusim::compiler::detail
