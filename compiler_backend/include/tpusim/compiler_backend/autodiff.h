// Reverse-mode automatic differentiation over the graph IR: appends to a graph the nodes that compute
// d loss / d parameter, as ordinary ops (MatMul/Gemm with transposes, Mul, Sub, ReduceSum, Expand,
// Clip, Slice, Gather, Concat, Conv, ...) that the session places and compiles like any other graph.
//
// Ops with a gradient rule (autodiff_ops.cc, autodiff_conv.cc):
//   MatMul (2-D B; A of any rank >= 2 with 2-D B), Gemm (transA, transB, alpha, beta, broadcast C),
//   Add, Sub, Mul, Div (numpy broadcasting: the gradient is summed over broadcast axes), Neg, Exp,
//   Identity, Relu, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, ReduceSum, ReduceMean, Softmax,
//   LogSoftmax, Log (Log(Softmax(z)) with no other reader of the Softmax output is differentiated as
//   LogSoftmax: dz = g - softmax(z) * sum(g), the stable "softmax - onehot" form of cross-entropy),
//   Conv (2-D, group 1, dilation 1, any strides and pads, optional bias), MaxPool (2-D, dilation 1,
//   any kernel, strides, pads; the gradient goes to the FIRST maximum of each window in row-major
//   window order, as the CPU kernel picks it).
// Values that do not depend on a parameter (labels, shapes, constants) need no rule. A path from a
// parameter to the loss through any other op is Unimplemented naming the op and the node.
//
// Conventions of the emitted nodes (docs/training.md):
//  - Relu's derivative is the mask Clip(y * 2^126 * 2^126, 0, 1): exactly 1 for every y > 0 (the
//    products overflow to +inf or reach >= 1 for any positive float, subnormals included), 0 for y = 0.
//  - MaxPool's "x is the window max" mask is 1 - Clip((max - x) * 2^126 * 2^126, 0, 1), exact for
//    every finite difference; ties are broken first-wins by a running "taken" mask.
//  - Zero-insertion (Conv strides) and scatter (MaxPool) are Gathers from [g, zeros] along one axis
//    with constant indices: exact copies on the TPU.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler {

struct GradientOptions {
  // Prefix of every node and value name the pass adds ("grad/..."); must not be the prefix of an
  // existing name.
  std::string name_prefix = "grad/";
  // Append each parameter's gradient value to graph.outputs (in `parameters` order).
  bool add_to_outputs = true;
};

struct GradientResult {
  // parameter value name -> the value holding d loss / d parameter (same shape as the parameter).
  // A parameter the loss does not depend on gets a zero constant.
  std::map<std::string, std::string> gradients;
  int nodes_added = 0;
};

// Appends the gradient subgraph of `loss` (a float32 value with one element, of any rank) with respect
// to each of `parameters` (graph inputs or constant values, i.e. initializers; not node outputs).
// Infers shapes first (InferShapes) when some are unknown; every value on a differentiated path must
// then have a known shape. The graph stays valid (Graph::Validate) and keeps its nodes in topological
// order: the new nodes follow the existing ones. On error the graph is left unchanged.
// InvalidArgument: unknown loss/parameter, a parameter produced by a node, a loss with more than one
// element or not float32. Unimplemented: an op on a differentiated path without a rule, or an
// attribute combination its rule does not cover (named, with the node).
absl::StatusOr<GradientResult> AppendGradients(Graph& graph, const std::string& loss,
                                               const std::vector<std::string>& parameters,
                                               const GradientOptions& options = {});

// The op types with a gradient rule, sorted.
std::vector<std::string> DifferentiableOps();

}  // namespace tpusim::compiler
