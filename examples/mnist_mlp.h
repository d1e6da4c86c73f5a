// The pieces of the `make demo` program (examples/mnist_mlp*.cc): training the MNIST-tutorial MLP on
// the TPU (mnist_mlp_train.cc) and the TPU-vs-CPU inference report (mnist_mlp_inference.cc).
// Everything writes to std::cout; errors come back as absl::Status.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mnist_train.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::mnist_demo {

struct DemoArgs {
  // Inference report.
  int64_t images = 256;
  std::string arch = "tpu-v4";
  std::string precision = "bf16";
  std::string data = runtime::kFashionMnistTestImages;
  std::string labels = runtime::kFashionMnistTestLabels;
  std::string report;
  bool cycle = true;  // also run the inference (and one training step) on the cycle engine
  // Training.
  bool train = true;
  std::string train_data = kTrainImages;
  std::string train_labels = kTrainLabels;
  int64_t train_images = 60000;
  int64_t test_images = 10000;
  TrainConfig config;
  bool progress = true;
};

struct DemoTarget {
  isa::ArchConfig arch;
  compiler::Precision precision = compiler::Precision::kBf16;
};

// Trains the MLP on the TPU (functional engine) with a progress bar, prints the test accuracy and,
// when args.cycle, the cycle-engine cost of one training step; returns the trained parameters.
absl::StatusOr<ParameterMap> TrainOnTpu(const DemoArgs& args, const DemoTarget& target);

// The inference report on args.images test images with `params`: placement logs, TPU vs CPU, the TPU
// run's statistics, the cycle engine run (bit-identical outputs, cycles per image) and the JSON report.
// `trained`: the parameters come from training, so accuracy against the labels is printed too.
absl::Status InferenceReport(const DemoArgs& args, const DemoTarget& target, const ParameterMap& params,
                             bool trained);

}  // namespace tpusim::mnist_demo
