// The inference half of `make demo`: the MLP on a batch of Fashion-MNIST test images on the simulated
// TPU and on the CPU, the TPU run's statistics, and the same TPU session on the cycle-accurate engine,
// whose outputs must be bit-identical to the functional engine's (it adds cycles, simulated time,
// utilizations and the cycle buckets, and the cycles per image).
// ArgMax has no TPU lowering, so the session runs it on the CPU (the placement log shows it).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>

#include "mnist_mlp.h"
#include "tpusim/runtime/report.h"

namespace tpusim::mnist_demo {
namespace {

namespace rt = tpusim::runtime;

struct RunResult {
  std::unique_ptr<rt::Session> session;
  std::map<std::string, Tensor> outputs;
  rt::RunReport report;
};

absl::StatusOr<RunResult> RunOn(const compiler::Graph& graph, const std::string& device, const std::string& engine,
                                const DemoTarget& target, const Tensor& images, bool log_placement = true) {
  rt::SessionOptions options;
  options.device = device;
  options.engine = engine;
  options.arch = target.arch;
  options.precision = target.precision;
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

int64_t CountCorrect(const Tensor& predictions, const std::vector<uint8_t>& labels) {
  int64_t correct = 0;
  for (int64_t i = 0; i < predictions.num_elements(); ++i)
    correct += predictions.as<int64_t>()[i] == labels[static_cast<size_t>(i)];
  return correct;
}

}  // namespace

absl::Status InferenceReport(const DemoArgs& args, const DemoTarget& target, const ParameterMap& params,
                             bool trained) {
  TPUSIM_ASSIGN_OR_RETURN(rt::IdxImages idx, rt::ReadIdxImages(args.data, args.images));
  if (idx.count == 0 || idx.rows * idx.cols != kPixels) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: need 28x28 images, got %d of %dx%d", args.data,
                                                      idx.count, idx.rows, idx.cols));
  }
  std::vector<uint8_t> labels;
  if (trained) {
    TPUSIM_ASSIGN_OR_RETURN(labels, rt::ReadIdxLabels(args.labels, idx.count));
  }
  if (trained && static_cast<int64_t>(labels.size()) != idx.count) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d labels for %d images", args.labels, labels.size(),
                                                      idx.count));
  }
  Tensor images = Tensor::FromFloats({idx.count, kPixels}, std::move(idx.pixels));
  std::cout << "\nMNIST MLP 784-100-10 (TensorFlow tutorial): inference on " << idx.count
            << " Fashion-MNIST test images\n  from " << args.data << "\n"
            << (trained ? "  weights: trained on the TPU above.\n"
                        : "  weights: deterministic Glorot-uniform (fixed seed), not trained (--no-train),\n"
                          "  so predictions are not meaningful; the TPU and the CPU must agree.\n")
            << "\n";
  TPUSIM_ASSIGN_OR_RETURN(compiler::Graph graph, BuildInferenceMlp(idx.count, params));

  std::cout << "== TPU session (arch " << target.arch.name() << ", precision " << args.precision
            << ", functional engine): device placement\n";
  TPUSIM_ASSIGN_OR_RETURN(RunResult tpu, RunOn(graph, "tpu", "functional", target, images));
  std::cout << "\n== CPU session (reference): device placement\n";
  TPUSIM_ASSIGN_OR_RETURN(RunResult cpu, RunOn(graph, "cpu", "functional", target, images));

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
            << absl::StrFormat("  ArgMax predictions agree on %d of %d images\n", agree, c_cpu.num_elements());
  if (trained) {
    const int64_t n = c_cpu.num_elements();
    std::cout << absl::StrFormat("  accuracy on these %d images: TPU %.2f%%, CPU %.2f%%\n", n,
                                 100.0 * static_cast<double>(CountCorrect(c_tpu, labels)) / static_cast<double>(n),
                                 100.0 * static_cast<double>(CountCorrect(c_cpu, labels)) / static_cast<double>(n));
  }
  std::cout << absl::StrFormat("  wall time: TPU session %.3f s (compile %.3f s), CPU session %.3f s\n",
                               tpu.report.wall_seconds, tpu.report.compile_seconds, cpu.report.wall_seconds);
  rt::ReportInfo info;
  info.model = trained ? "mnist_mlp (builder API, trained on the TPU)" : "mnist_mlp (builder API)";
  info.engine = "functional";
  info.arch = target.arch.name();
  info.device = "tpu";
  info.precision = args.precision;
  info.arch_config = target.arch;
  std::cout << "\n== TPU run statistics\n" << rt::ReportToText(tpu.report, tpu.session->placements(), info);
  const RunResult* reported = &tpu;
  RunResult cycle;
  if (args.cycle) {
    TPUSIM_ASSIGN_OR_RETURN(cycle, RunOn(graph, "tpu", "cycle", target, images, /*log_placement=*/false));
    info.engine = "cycle";
    TPUSIM_RETURN_IF_ERROR(CheckBitIdentical(tpu.outputs, cycle.outputs));
    const uint64_t cycles = cycle.report.tpu.cycles;
    const double per_image = static_cast<double>(cycles) / static_cast<double>(idx.count);
    std::cout << "\n== Cycle-accurate engine: inference (same TPU session, engine cycle)\n"
              << "  outputs bit-identical to the functional engine's: yes (" << cycle.outputs.size()
              << " tensors compared byte for byte)\n"
              << absl::StrFormat("  wall time: %.3f s (TPU launches %.3f s)\n", cycle.report.wall_seconds,
                                 cycle.report.tpu_seconds)
              << absl::StrFormat("  inference cost per image: %.1f cycles (%.2f ns at %.0f MHz; batch of %d)\n",
                                 per_image, 1e3 * per_image / target.arch.clock_mhz(), target.arch.clock_mhz(),
                                 idx.count)
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

}  // namespace tpusim::mnist_demo
