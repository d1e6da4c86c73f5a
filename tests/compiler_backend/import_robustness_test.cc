// Bad input never crashes: every model shipped in libonnx-testdata, whole, truncated and with flipped
// bytes, goes through import, shape inference and the support check with a status, never an abort.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"

namespace tpusim::compiler {
namespace {

const std::string kDataDir = "/usr/share/libonnx-testdata/data/";

std::vector<std::string> AllModels() {
  std::vector<std::string> models;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    for (const auto& entry : std::filesystem::directory_iterator(kDataDir + suite)) {
      const std::filesystem::path model = entry.path() / "model.onnx";
      if (std::filesystem::exists(model)) models.push_back(model.string());
    }
  }
  std::sort(models.begin(), models.end());
  return models;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the whole front half on `bytes`; returns whether the import succeeded.
bool Exercise(std::string_view bytes) {
  absl::StatusOr<Graph> g = ImportOnnxModel(bytes);
  if (!g.ok()) {
    EXPECT_NE(g.status().code(), absl::StatusCode::kOk);
    return false;
  }
  absl::Status s = InferShapes(*g);
  EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kUnimplemented ||
              s.code() == absl::StatusCode::kInvalidArgument) << s;
  for (const Node& node : g->nodes) {
    absl::Status support = CheckTpuSupport(node, *g);
    EXPECT_TRUE(support.ok() || support.code() == absl::StatusCode::kUnimplemented) << support;
  }
  return true;
}

TEST(ImportRobustnessTest, EveryShippedModelImportsOrFailsCleanly) {
  const std::vector<std::string> models = AllModels();
  ASSERT_GT(models.size(), 1000u);
  int imported = 0;
  for (const std::string& path : models) {
    SCOPED_TRACE(path);
    imported += Exercise(ReadBytes(path)) ? 1 : 0;
  }
  // Most node tests use float32 tensors and tensor types; a minority (double, uint8, strings,
  // sequences, optionals) are rejected with an error.
  EXPECT_GT(imported, static_cast<int>(models.size()) / 2);
}

TEST(ImportRobustnessTest, TruncatedAndCorruptedModelsFailCleanly) {
  const std::vector<std::string> models = AllModels();
  uint32_t lcg = 12345;  // deterministic byte positions and values
  for (size_t m = 0; m < models.size(); m += 7) {
    SCOPED_TRACE(models[m]);
    const std::string bytes = ReadBytes(models[m]);
    for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
      Exercise(std::string_view(bytes).substr(0, cut));
    }
    for (int flip = 0; flip < 8 && !bytes.empty(); ++flip) {
      std::string corrupted = bytes;
      lcg = lcg * 1664525u + 1013904223u;
      corrupted[lcg % corrupted.size()] = static_cast<char>(lcg >> 24);
      Exercise(corrupted);
    }
  }
}

}  // namespace
}  // namespace tpusim::compiler
