// The main job of `make demo`: the 784-100-10 MLP of TensorFlow's MNIST tutorial, built with the C++
// builder API, trained on Fashion-MNIST on the simulated TPU (mnist_mlp_train.cc), then run on a
// batch of test images on the TPU and on the CPU (mnist_mlp_inference.cc). With --no-train the
// inference report runs on deterministic untrained weights (the demo before training landed).
#include <iostream>

#include "CLI/CLI.hpp"
#include "mnist_mlp.h"

namespace {

namespace md = tpusim::mnist_demo;
using tpusim::compiler::Tensor;

// The untrained weights of --no-train: Glorot uniform, small uniform biases (the seeds the demo has
// always used; tests/rtl/cosim_compiled.cc uses the same initialisation).
md::ParameterMap UntrainedParameters() {
  auto small_bias = [](int64_t n, uint64_t seed) {
    Tensor t = tpusim::runtime::RandomTensor(tpusim::compiler::DataType::kFloat32, {n}, seed);
    for (int64_t i = 0; i < n; ++i) t.as<float>()[i] *= 0.1f;
    return t;
  };
  md::ParameterMap p;
  p["W1"] = md::GlorotUniform(md::kPixels, md::kHidden, 1001);
  p["b1"] = small_bias(md::kHidden, 1002);
  p["W2"] = md::GlorotUniform(md::kHidden, md::kClasses, 1003);
  p["b2"] = small_bias(md::kClasses, 1004);
  return p;
}

absl::Status Demo(const md::DemoArgs& args) {
  md::DemoTarget target;
  TPUSIM_ASSIGN_OR_RETURN(target.precision, tpusim::compiler::ParsePrecision(args.precision));
  TPUSIM_ASSIGN_OR_RETURN(target.arch, tpusim::isa::LoadArch(args.arch));
  if (!args.train) return md::InferenceReport(args, target, UntrainedParameters(), /*trained=*/false);
  TPUSIM_ASSIGN_OR_RETURN(md::ParameterMap params, md::TrainOnTpu(args, target));
  return md::InferenceReport(args, target, params, /*trained=*/true);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trains the MNIST-tutorial MLP on Fashion-MNIST on the simulated TPU, then runs it on test images "
               "on the TPU and the CPU",
               "mnist_mlp"};
  md::DemoArgs args;
  app.add_option("--images", args.images, "How many test images the inference report runs (batch size)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  app.add_option("--arch", args.arch, "Target: tiny, tpu-v1, tpu-v4, rtl-16x16 or an ArchConfig .textproto file")
      ->capture_default_str();
  app.add_option("--precision", args.precision, "bf16, high or highest")
      ->check(CLI::IsMember({"bf16", "high", "highest"}))
      ->capture_default_str();
  app.add_option("--data", args.data, "Test images, idx3-ubyte(.gz)")->capture_default_str();
  app.add_option("--labels", args.labels, "Test labels, idx1-ubyte(.gz)")->capture_default_str();
  app.add_option("--report", args.report,
                 "Write the inference run's report (JSON) here (the cycle engine's run unless --no-cycle)");
  app.add_flag("!--no-cycle", args.cycle, "Skip the cycle-accurate engine runs");
  app.add_flag("!--no-train", args.train, "Skip training: inference report on untrained deterministic weights");
  app.add_option("--train-data", args.train_data, "Training images, idx3-ubyte(.gz)")->capture_default_str();
  app.add_option("--train-labels", args.train_labels, "Training labels, idx1-ubyte(.gz)")->capture_default_str();
  app.add_option("--train-images", args.train_images, "Use the first N training images")
      ->check(CLI::Range(int64_t{1}, int64_t{60000}))
      ->capture_default_str();
  app.add_option("--test-images", args.test_images, "Measure test accuracy on the first N test images")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  app.add_option("--epochs", args.config.epochs)->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--batch", args.config.batch, "Training batch size")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  app.add_option("--lr", args.config.learning_rate, "SGD learning rate")->capture_default_str();
  app.add_option("--momentum", args.config.momentum, "SGD momentum")->capture_default_str();
  app.add_option("--seed", args.config.seed, "Seed of the initial weights and the shuffles")->capture_default_str();
  app.add_option("--max-steps", args.config.max_steps_per_epoch, "Cap on steps per epoch (0: no cap)")
      ->capture_default_str();
  app.add_flag("!--no-progress", args.progress, "No progress bar");
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
