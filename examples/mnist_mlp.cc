// The main job of `make demo`: the 784-100-10 MLP of TensorFlow's MNIST tutorial, built with the C++
// builder API, run on a batch of Fashion-MNIST test images on the simulated TPU and on the CPU.
//
//   x [N,784] -> MatMul W1 [784,100] + b1 -> Relu -> MatMul W2 [100,10] + b2 -> Softmax -> probs
//                                                                                   \-> ArgMax -> predictions
// ArgMax has no TPU lowering, so the session runs it on the CPU (the placement log shows it).
// The TPU session runs twice: on the functional engine (fast, bit-exact) and on the cycle-accurate
// engine, whose outputs must be bit-identical to the functional engine's; the cycle run adds the
// cycles, simulated time, utilizations and the cycle buckets.
// The weights are deterministic (fixed-seed Glorot uniform, small uniform biases), not trained:
// training comes in a later issue, so the predictions are not meaningful yet; the point is that the
// TPU and the CPU compute the same function.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/mnist.h"
#include "tpusim/runtime/report.h"
#include "tpusim/runtime/session.h"
#include "tpusim/runtime/tensor_io.h"

namespace {

using tpusim::compiler::DataType;
using tpusim::compiler::Tensor;
namespace rt = tpusim::runtime;

struct Args {
  int64_t images = 256;
  std::string arch = "tpu-v4";
  std::string precision = "bf16";
  std::string data = rt::kFashionMnistTestImages;
  std::string report;
  bool cycle = true;  // also run the TPU session on the cycle engine
};

// Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), from a fixed seed.
Tensor GlorotUniform(int64_t fan_in, int64_t fan_out, uint64_t seed) {
  Tensor t = rt::RandomTensor(DataType::kFloat32, {fan_in, fan_out}, seed);  // U[-1, 1)
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.as<float>()[i] *= limit;
  return t;
}

Tensor SmallBias(int64_t n, uint64_t seed) {
  Tensor t = rt::RandomTensor(DataType::kFloat32, {n}, seed);
  for (int64_t i = 0; i < n; ++i) t.as<float>()[i] *= 0.1f;
  return t;
}

absl::StatusOr<tpusim::compiler::Graph> BuildMlp(int64_t batch) {
  rt::GraphBuilder b;
  rt::Output x = b.Placeholder("x", {batch, 784});
  rt::Output w1 = b.Variable("W1", GlorotUniform(784, 100, 1001));
  rt::Output b1 = b.Variable("b1", SmallBias(100, 1002));
  rt::Output w2 = b.Variable("W2", GlorotUniform(100, 10, 1003));
  rt::Output b2 = b.Variable("b2", SmallBias(10, 1004));
  rt::Output hidden = b.Relu(b.Add(b.MatMul(x, w1), b1), "hidden");
  rt::Output logits = b.Add(b.MatMul(hidden, w2), b2, "logits");
  rt::Output probs = b.Softmax(logits, -1, "probs");
  rt::Output predictions = b.ArgMax(probs, 1, "predictions");
  return b.Build({probs, predictions});
}

struct RunResult {
  std::unique_ptr<rt::Session> session;
  std::map<std::string, Tensor> outputs;
  rt::RunReport report;
};

absl::StatusOr<RunResult> RunOn(const tpusim::compiler::Graph& graph, const std::string& device,
                                const std::string& engine, const tpusim::isa::ArchConfig& arch,
                                tpusim::compiler::Precision precision, const Tensor& images,
                                bool log_placement = true) {
  rt::SessionOptions options;
  options.device = device;
  options.engine = engine;
  options.arch = arch;
  options.precision = precision;
  options.log_device_placement = log_placement;
  options.log = &std::cout;
  RunResult r;
  TPUSIM_ASSIGN_OR_RETURN(r.session, rt::Session::Create(graph, options));
  TPUSIM_ASSIGN_OR_RETURN(r.outputs, r.session->Run({{"x", images}}, &r.report));
  return r;
}

// OK when both runs produced the same output names with byte-identical tensors.
absl::Status CheckBitIdentical(const std::map<std::string, Tensor>& functional,
                               const std::map<std::string, Tensor>& cycle) {
  for (const auto& [name, want] : functional) {
    auto it = cycle.find(name);
    if (it == cycle.end()) return absl::InternalError("the cycle engine run has no output '" + name + "'");
    const Tensor& got = it->second;
    if (got.dtype() != want.dtype() || got.shape() != want.shape() || got.byte_size() != want.byte_size() ||
        std::memcmp(got.data(), want.data(), want.byte_size()) != 0) {
      return absl::InternalError("output '" + name +
                                 "' of the cycle engine differs from the functional engine's (same program, "
                                 "same bits is violated)");
    }
  }
  return cycle.size() == functional.size()
             ? absl::OkStatus()
             : absl::InternalError("the cycle engine run returned a different set of outputs");
}

absl::Status Demo(const Args& args) {
  TPUSIM_ASSIGN_OR_RETURN(tpusim::compiler::Precision precision,
                          tpusim::compiler::ParsePrecision(args.precision));
  TPUSIM_ASSIGN_OR_RETURN(tpusim::isa::ArchConfig arch, tpusim::isa::LoadArch(args.arch));
  TPUSIM_ASSIGN_OR_RETURN(rt::IdxImages idx, rt::ReadIdxImages(args.data, args.images));
  if (idx.count == 0 || idx.rows * idx.cols != 784) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: need 28x28 images, got %d of %dx%d", args.data,
                                                      idx.count, idx.rows, idx.cols));
  }
  Tensor images = Tensor::FromFloats({idx.count, 784}, std::move(idx.pixels));
  std::cout << "MNIST MLP 784-100-10 (TensorFlow tutorial) on " << idx.count << " Fashion-MNIST test images\n"
            << "  from " << args.data << "\n"
            << "  weights: deterministic Glorot-uniform (fixed seed), not trained (training comes later),\n"
            << "  so predictions are not meaningful; the TPU and the CPU must agree.\n\n";
  TPUSIM_ASSIGN_OR_RETURN(tpusim::compiler::Graph graph, BuildMlp(idx.count));

  std::cout << "== TPU session (arch " << arch.name() << ", precision " << args.precision
            << ", functional engine): device placement\n";
  TPUSIM_ASSIGN_OR_RETURN(RunResult tpu, RunOn(graph, "tpu", "functional", arch, precision, images));
  std::cout << "\n== CPU session (reference): device placement\n";
  TPUSIM_ASSIGN_OR_RETURN(RunResult cpu, RunOn(graph, "cpu", "functional", arch, precision, images));

  const Tensor& p_tpu = tpu.outputs.at("probs");
  const Tensor& p_cpu = cpu.outputs.at("probs");
  double max_diff = 0;
  for (int64_t i = 0; i < p_cpu.num_elements(); ++i) {
    max_diff =
        std::max(max_diff, static_cast<double>(std::fabs(p_tpu.as<float>()[i] - p_cpu.as<float>()[i])));
  }
  const Tensor& c_tpu = tpu.outputs.at("predictions");
  const Tensor& c_cpu = cpu.outputs.at("predictions");
  int64_t agree = 0;
  for (int64_t i = 0; i < c_cpu.num_elements(); ++i)
    agree += c_tpu.as<int64_t>()[i] == c_cpu.as<int64_t>()[i];

  std::cout << "\n== TPU vs CPU\n"
            << absl::StrFormat("  largest |softmax(TPU) - softmax(CPU)|: %.3g (precision %s)\n", max_diff,
                               args.precision)
            << absl::StrFormat("  ArgMax predictions agree on %d of %d images\n", agree, c_cpu.num_elements())
            << absl::StrFormat("  wall time: TPU session %.3f s (compile %.3f s), CPU session %.3f s\n",
                               tpu.report.wall_seconds, tpu.report.compile_seconds, cpu.report.wall_seconds);
  rt::ReportInfo info;
  info.model = "mnist_mlp (builder API)";
  info.engine = "functional";
  info.arch = arch.name();
  info.device = "tpu";
  info.precision = args.precision;
  info.arch_config = arch;
  std::cout << "\n== TPU run statistics\n" << rt::ReportToText(tpu.report, tpu.session->placements(), info);
  const RunResult* reported = &tpu;
  RunResult cycle;
  if (args.cycle) {
    TPUSIM_ASSIGN_OR_RETURN(cycle, RunOn(graph, "tpu", "cycle", arch, precision, images, /*log_placement=*/false));
    info.engine = "cycle";
    TPUSIM_RETURN_IF_ERROR(CheckBitIdentical(tpu.outputs, cycle.outputs));
    std::cout << "\n== Cycle-accurate engine (same TPU session, engine cycle)\n"
              << "  outputs bit-identical to the functional engine's: yes (" << cycle.outputs.size()
              << " tensors compared byte for byte)\n"
              << absl::StrFormat("  wall time: %.3f s (TPU launches %.3f s)\n", cycle.report.wall_seconds,
                                 cycle.report.tpu_seconds)
              << rt::TimingSummaryText(cycle.report, info);
    reported = &cycle;
  }
  if (!args.report.empty()) {
    TPUSIM_RETURN_IF_ERROR(rt::WriteTextFile(
        args.report, rt::ReportToJson(reported->report, reported->session->placements(), info)));
    std::cout << "report: " << args.report << " (" << info.engine << " engine)\n";
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs the MNIST-tutorial MLP on Fashion-MNIST test images on the simulated TPU and the CPU",
               "mnist_mlp"};
  Args args;
  app.add_option("--images", args.images, "How many test images to run (batch size)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  app.add_option("--arch", args.arch, "Target: tiny, tpu-v1, tpu-v4, rtl-16x16 or an ArchConfig .textproto file")
      ->capture_default_str();
  app.add_option("--precision", args.precision, "bf16, high or highest")
      ->check(CLI::IsMember({"bf16", "high", "highest"}))
      ->capture_default_str();
  app.add_option("--data", args.data, "idx3-ubyte(.gz) image file")->capture_default_str();
  app.add_option("--report", args.report,
                 "Write the TPU run's report (JSON) here (the cycle engine's run unless --no-cycle)");
  app.add_flag("!--no-cycle", args.cycle, "Skip the cycle-accurate engine run");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "mnist_mlp: error: " << e.what() << "\n";
    return 2;
  }
  absl::Status status = Demo(args);
  if (!status.ok()) {
    std::cerr << "mnist_mlp: error: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
