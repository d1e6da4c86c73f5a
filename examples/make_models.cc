// tpusim_models: writes the model zoo (examples/model_zoo.h) as ONNX files with deterministic weights.
//
//   tpusim_models OUT_DIR            the real shapes (ResNets at 224x224, BERT-base seq 128, ...)
//   tpusim_models OUT_DIR --small    the reduced versions the tests run on the tiny arch
//
// Writes OUT_DIR/<name>.onnx for each model and prints one line per file (name, bytes, nodes).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "model_zoo.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::string(argv[2]) != "--small")) {
    std::fprintf(stderr, "usage: %s OUT_DIR [--small]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "tpusim_models: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  for (const tpusim::models::NamedModel& m : tpusim::models::AllModels(argc == 2)) {
    const std::filesystem::path path = dir / (m.name + ".onnx");
    std::ofstream out(path, std::ios::binary);
    if (!out || !m.model.SerializeToOstream(&out)) {
      std::fprintf(stderr, "tpusim_models: cannot write %s\n", path.c_str());
      return 1;
    }
    out.close();
    std::printf("%-28s %12llu bytes %5d nodes\n", path.c_str(),
                static_cast<unsigned long long>(std::filesystem::file_size(path)), m.model.graph().node_size());
  }
  return 0;
}
