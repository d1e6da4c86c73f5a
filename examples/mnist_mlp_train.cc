// The training half of `make demo`: the MLP trained on Fashion-MNIST on the simulated TPU (functional
// engine; every op of the step on the TPU), a progress bar, the test accuracy, and the cycle-engine
// cost of one training step.
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "mnist_mlp.h"
#include "tpusim/runtime/report.h"

namespace tpusim::mnist_demo {
namespace {

namespace rt = tpusim::runtime;

rt::SessionOptions TpuOptions(const DemoTarget& target, const std::string& engine) {
  rt::SessionOptions options;
  options.device = "tpu";
  options.engine = engine;
  options.arch = target.arch;
  options.precision = target.precision;
  return options;
}

// The progress bar: one line rewritten in place on a terminal (at most ~10 times a second); one line
// per finished epoch otherwise, so logs stay readable.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), tty_(isatty(STDOUT_FILENO) != 0) {}
  void Update(const TrainProgress& p) {
    if (!enabled_) return;
    const bool epoch_done = p.step == p.steps_per_epoch;
    const auto now = std::chrono::steady_clock::now();
    if (tty_ && (epoch_done || now - last_ >= std::chrono::milliseconds(100))) {
      std::cout << "\r" << FormatProgress(p) << (epoch_done ? "\n" : "") << std::flush;
      last_ = now;
    } else if (!tty_ && epoch_done) {
      std::cout << FormatProgress(p) << "\n" << std::flush;
    }
  }

 private:
  bool enabled_;
  bool tty_;
  std::chrono::steady_clock::time_point last_{};
};

// One training step of batch `batch` on the cycle engine, from `params`, on the first images of `data`.
absl::Status CycleCostOfOneStep(const DemoArgs& args, const DemoTarget& target, const ParameterMap& params,
                                const LabeledImages& data) {
  const int64_t batch = args.config.batch;
  TPUSIM_ASSIGN_OR_RETURN(compiler::Graph model, BuildTrainingMlp(batch, params));
  rt::TrainerOptions options{TpuOptions(target, "cycle"), args.config.learning_rate, args.config.momentum};
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<rt::Trainer> trainer,
                          rt::Trainer::Create(std::move(model), "loss", ParameterNames(), options));
  std::vector<int64_t> order(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) order[static_cast<size_t>(i)] = i;
  Tensor x, y;
  FillBatch(data, order, 0, batch, &x, &y);
  rt::RunReport report;
  TPUSIM_RETURN_IF_ERROR(trainer->Step({{"x", x}, {"labels", y}}, &report).status());
  rt::ReportInfo info;
  info.model = "mnist_mlp training step";
  info.engine = "cycle";
  info.arch = target.arch.name();
  info.device = "tpu";
  info.precision = args.precision;
  info.arch_config = target.arch;
  const double cycles = static_cast<double>(report.tpu.cycles);
  std::cout << absl::StrFormat("\n== Cycle-accurate engine: one training step (batch %d: forward, gradients, "
                               "SGD update; %d TPU launch, %d CPU kernels)\n",
                               batch, report.tpu_launches, report.cpu_kernels)
            << absl::StrFormat("  wall time: %.3f s (compile %.3f s)\n", report.wall_seconds, report.compile_seconds)
            << absl::StrFormat("  per training image: %.1f cycles\n", cycles / static_cast<double>(batch))
            << rt::TimingSummaryText(report, info);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParameterMap> TrainOnTpu(const DemoArgs& args, const DemoTarget& target) {
  const TrainConfig& config = args.config;
  TPUSIM_ASSIGN_OR_RETURN(LabeledImages train,
                          LoadLabeledImages(args.train_data, args.train_labels, args.train_images));
  TPUSIM_ASSIGN_OR_RETURN(LabeledImages test, LoadLabeledImages(args.data, args.labels, args.test_images));
  TPUSIM_ASSIGN_OR_RETURN(compiler::Graph model, BuildTrainingMlp(config.batch, InitialParameters(config.seed)));
  rt::TrainerOptions options{TpuOptions(target, "functional"), config.learning_rate, config.momentum};
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<rt::Trainer> trainer,
                          rt::Trainer::Create(std::move(model), "loss", ParameterNames(), options));
  int64_t on_tpu = 0;
  for (const rt::Placement& p : trainer->step_placements()) on_tpu += p.device == rt::kTpuDeviceName;
  const int64_t steps = std::min(train.count / config.batch,
                                 config.max_steps_per_epoch > 0 ? config.max_steps_per_epoch : train.count);
  std::cout << "MNIST MLP 784-100-10 (TensorFlow tutorial): training on the TPU (arch " << target.arch.name()
            << ", precision " << args.precision << ", functional engine)\n"
            << absl::StrFormat("  %d Fashion-MNIST training images from %s\n", train.count, args.train_data)
            << absl::StrFormat("  batch %d, %d epochs x %d steps, SGD lr %g momentum %g, seed %d\n", config.batch,
                               config.epochs, steps, config.learning_rate, config.momentum, config.seed)
            << absl::StrFormat("  step graph: %d ops, %d on the TPU (forward, gradients and update: one launch)\n",
                               trainer->step_placements().size(), on_tpu);
  ProgressBar bar(args.progress);
  TPUSIM_ASSIGN_OR_RETURN(TrainResult result,
                          Train(*trainer, train, config, [&bar](const TrainProgress& p) { bar.Update(p); }));
  std::cout << absl::StrFormat("  trained in %.1f s (%.0f images/s); mean loss per epoch:", result.seconds,
                               static_cast<double>(result.steps * config.batch) / result.seconds);
  for (float l : result.epoch_mean_loss) std::cout << absl::StrFormat(" %.4f", l);
  std::cout << "\n";
  const auto eval_start = std::chrono::steady_clock::now();
  TPUSIM_ASSIGN_OR_RETURN(double accuracy,
                          Accuracy(trainer->parameters(), test, 1000, TpuOptions(target, "functional")));
  std::cout << absl::StrFormat("  test accuracy: %.2f%% of %d Fashion-MNIST test images (TPU, %.1f s)\n",
                               100.0 * accuracy, test.count,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count());
  if (args.cycle) TPUSIM_RETURN_IF_ERROR(CycleCostOfOneStep(args, target, trainer->parameters(), train));
  return trainer->parameters();
}

}  // namespace tpusim::mnist_demo
