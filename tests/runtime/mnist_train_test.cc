// Training the demo's 784-100-10 MLP (examples/mnist_train.h) on a slice of Fashion-MNIST on the TPU:
// a few dozen SGD steps must lower the loss and lift test accuracy well above chance (10 classes:
// 10 %). Skipped when Debian's dataset-fashion-mnist is not installed.
//
// Arch tpu-v4 rather than tiny: the 784x100 MatMuls would take hundreds of 8x8 tiles per step on tiny
// (seconds per step on the functional engine); on tpu-v4 a step of batch 64 is a few milliseconds.
// Precision bf16, as in the demo.
#include <fstream>

#include "gtest/gtest.h"
#include "mnist_train.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::mnist_demo {
namespace {

bool DatasetInstalled() {
  for (const char* path : {kTrainImages, kTrainLabels, runtime::kFashionMnistTestImages,
                           runtime::kFashionMnistTestLabels}) {
    if (!std::ifstream(path).good()) return false;
  }
  return true;
}

runtime::SessionOptions TpuOptions() {
  runtime::SessionOptions options;
  options.device = "tpu";
  options.engine = "functional";
  options.arch = *isa::LoadArch("tpu-v4");
  options.precision = compiler::Precision::kBf16;
  return options;
}

TEST(MnistTrainTest, LossFallsAndAccuracyRisesAboveChance) {
  if (!DatasetInstalled()) {
    GTEST_SKIP() << "Fashion-MNIST not found under /usr/share/datasets/fashion-mnist "
                    "(install the Debian package dataset-fashion-mnist)";
  }
  absl::StatusOr<LabeledImages> train = LoadLabeledImages(kTrainImages, kTrainLabels, 3200);
  ASSERT_TRUE(train.ok()) << train.status();
  absl::StatusOr<LabeledImages> test =
      LoadLabeledImages(runtime::kFashionMnistTestImages, runtime::kFashionMnistTestLabels, 500);
  ASSERT_TRUE(test.ok()) << test.status();
  ASSERT_EQ(train->count, 3200);
  ASSERT_EQ(test->count, 500);

  TrainConfig config;
  config.batch = 64;
  config.epochs = 1;  // 50 steps of 64 images
  config.learning_rate = 0.1f;
  config.momentum = 0.9f;
  config.seed = 7;
  const ParameterMap initial = InitialParameters(config.seed);
  absl::StatusOr<double> before = Accuracy(initial, *test, 250, TpuOptions());
  ASSERT_TRUE(before.ok()) << before.status();

  absl::StatusOr<compiler::Graph> model = BuildTrainingMlp(config.batch, initial);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::unique_ptr<runtime::Trainer>> trainer = runtime::Trainer::Create(
      *model, "loss", ParameterNames(), runtime::TrainerOptions{TpuOptions(), config.learning_rate, config.momentum});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  for (const runtime::Placement& p : (*trainer)->step_placements()) {
    EXPECT_EQ(p.device, runtime::kTpuDeviceName) << p.node << ": " << p.reason;
  }
  int64_t progress_calls = 0;
  absl::StatusOr<TrainResult> result =
      Train(**trainer, *train, config, [&](const TrainProgress& p) {
        ++progress_calls;
        EXPECT_EQ(p.step, progress_calls);
        EXPECT_EQ(p.steps_per_epoch, 50);
      });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->losses.size(), 50u);
  EXPECT_EQ(progress_calls, 50);

  // Cross-entropy of 10 classes starts near ln 10 = 2.30 for small random logits; the mean of the
  // last 10 steps must be clearly below the mean of the first 10.
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) first += result->losses[static_cast<size_t>(i)] / 10.0;
  for (int i = 40; i < 50; ++i) last += result->losses[static_cast<size_t>(i)] / 10.0;
  EXPECT_GT(first, 1.5);
  EXPECT_LT(last, 0.75 * first) << "first 10 steps " << first << ", last 10 steps " << last;

  absl::StatusOr<double> after = Accuracy((*trainer)->parameters(), *test, 250, TpuOptions());
  ASSERT_TRUE(after.ok()) << after.status();
  RecordProperty("accuracy_before", std::to_string(*before));
  RecordProperty("accuracy_after", std::to_string(*after));
  EXPECT_GT(*after, 0.5) << "chance is 0.1; before training " << *before;
  EXPECT_GT(*after, *before);
}

TEST(MnistTrainTest, ProgressLineShowsEpochStepLossAndSpeed) {
  TrainProgress p;
  p.epoch = 2;
  p.epochs = 3;
  p.step = 5;
  p.steps_per_epoch = 10;
  p.running_loss = 0.51234f;
  p.images_per_second = 1234.4;
  // 8-wide bar, 5/10 done: 4 '=' then the '>' head.
  EXPECT_EQ(FormatProgress(p, 8), "epoch 2/3 [====>   ]  5/10  loss 0.5123  1234 img/s");
}

TEST(MnistTrainTest, TooFewImagesForOneBatchIsAnError) {
  LabeledImages tiny{2, std::vector<float>(2 * kPixels, 0.0f), {0, 1}};
  absl::StatusOr<compiler::Graph> model = BuildTrainingMlp(4, InitialParameters(1));
  ASSERT_TRUE(model.ok()) << model.status();
  runtime::SessionOptions cpu;
  cpu.device = "cpu";
  auto trainer = runtime::Trainer::Create(*model, "loss", ParameterNames(), runtime::TrainerOptions{cpu, 0.1f, 0.9f});
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  TrainConfig config;
  config.batch = 4;
  absl::StatusOr<TrainResult> result = Train(**trainer, tiny, config);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tpusim::mnist_demo
