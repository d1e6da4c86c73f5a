// Helpers for tests that use the ONNX backend tests shipped by Debian's libonnx-testdata: locating a
// test, loading its data sets, comparing at ONNX's backend-test tolerance, and (onnx_test_data.cc)
// running one test on a TPU session. The inline helpers need no runtime library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::testing {

inline constexpr char kOnnxNodeTestRoot[] = "/usr/share/libonnx-testdata/data/node";

inline std::string OnnxNodeTestDir(const std::string& name) {
  return absl::StrCat(kOnnxNodeTestRoot, "/", name);
}

// Names listed in a text file, one per line ('#' comments and blank lines skipped); empty when the
// file is missing.
inline std::vector<std::string> ReadNameList(const std::string& path) {
  std::vector<std::string> names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty() && line[0] != '#') names.push_back(line);
  }
  return names;
}

// The node tests that pass on the TPU: tests/onnx_conformance_pass.txt (the list may only grow).
inline std::vector<std::string> ConformancePassList() {
  return ReadNameList(std::string(TPUSIM_SOURCE_DIR) + "/tests/onnx_conformance_pass.txt");
}

// The test_data_set_* folders of a node test, sorted.
inline std::vector<std::string> OnnxDataSets(const std::string& test_dir) {
  std::vector<std::string> sets;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(test_dir, ec)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) {
      sets.push_back(e.path().string());
    }
  }
  std::sort(sets.begin(), sets.end());
  return sets;
}

// The <prefix>_K.pb files of a data set (input_0.pb, input_1.pb, ...), in K order.
inline std::vector<std::string> OnnxDataFiles(const std::string& set_dir, const std::string& prefix) {
  std::vector<std::string> files;
  for (int k = 0;; ++k) {
    std::string path = absl::StrCat(set_dir, "/", prefix, "_", k, ".pb");
    if (!std::filesystem::exists(path)) break;
    files.push_back(path);
  }
  return files;
}

// numpy.testing.assert_allclose(actual, expected, rtol, atol) as ONNX's backend tests call it
// (rtol 1e-3, atol 1e-7): |actual - expected| <= atol + rtol * |expected| elementwise, NaN equal to
// NaN, infinities equal only to themselves; shapes and dtypes must match; integers compare exactly.
// Returns "" when close, else a description of the first mismatch.
inline std::string AllCloseMismatch(const compiler::Tensor& actual, const compiler::Tensor& expected,
                                    double rtol = 1e-3, double atol = 1e-7) {
  if (actual.dtype() != expected.dtype()) {
    return absl::StrCat("dtype ", std::string(compiler::DataTypeName(actual.dtype())), " != expected ",
                        std::string(compiler::DataTypeName(expected.dtype())));
  }
  if (actual.shape() != expected.shape()) {
    return absl::StrCat("shape ", compiler::ShapeToString(actual.shape()), " != expected ",
                        compiler::ShapeToString(expected.shape()));
  }
  const int64_t n = expected.num_elements();
  if (expected.dtype() != compiler::DataType::kFloat32) {
    if (actual.byte_size() != expected.byte_size() ||
        std::memcmp(actual.data(), expected.data(), expected.byte_size()) != 0) {
      return "integer/bool values differ";
    }
    return "";
  }
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < n; ++i) {
    const double a = actual.as<float>()[i];
    const double e = expected.as<float>()[i];
    bool ok;
    if (std::isnan(e) || std::isnan(a)) {
      ok = std::isnan(e) && std::isnan(a);
    } else if (std::isinf(e) || std::isinf(a)) {
      ok = a == e;
    } else {
      ok = std::fabs(a - e) <= atol + rtol * std::fabs(e);
    }
    if (!ok) {
      if (bad == 0) first = absl::StrCat("element ", i, ": actual ", a, " vs expected ", e);
      ++bad;
    }
  }
  if (bad == 0) return "";
  return absl::StrCat(bad, " of ", n, " elements differ; first: ", first);
}

// --- Every libonnx-testdata directory (implemented in onnx_test_data.cc) ---

inline constexpr char kOnnxTestDataRoot[] = "/usr/share/libonnx-testdata/data";

// The directories the conformance suite covers, in table order: node, pytorch-converted,
// pytorch-operator, simple. (Debian's real/ holds only data.json download pointers, no models.)
const std::vector<std::string>& OnnxTestDirs();
// kOnnxTestDataRoot/<dir>/<name>.
std::string OnnxTestDir(const std::string& dir, const std::string& name);
// Every test folder of <dir>, sorted.
std::vector<std::string> OnnxTestNames(const std::string& dir);
// The checked-in pass list of <dir>: tests/onnx_conformance_pass.txt for node (kept for history),
// tests/onnx_conformance_pass_<dir>.txt for the others.
std::string ConformancePassListPath(const std::string& dir);
std::vector<std::string> ConformancePassList(const std::string& dir);

// The op types the compiler claims for the TPU (compiler_backend/src/tpu_support.cc TpuOps, which has
// no public accessor, plus the shape-only ops folded at compile time: Shape, Size, Cast,
// ConstantOfShape). The scans try the tests made only of these.
const std::set<std::string>& TpuClaimedOpTypes();
// Op types of a model, read straight from the ModelProto (so a model the frontend rejects still
// counts); {"<unreadable>"} when it cannot be parsed.
std::set<std::string> ModelOpTypes(const std::string& model_path);
// The claimed-op candidates of <dir>: tests whose op types are all in TpuClaimedOpTypes().
std::vector<std::string> ConformanceCandidates(const std::string& dir);

// Compares output `k` of data set `set_dir`: "" when close enough, else a description. `feeds` are
// the inputs by graph input name.
using OutputCheck = std::function<std::string(const std::string& set_dir,
                                              const std::map<std::string, compiler::Tensor>& feeds, size_t k,
                                              const compiler::Tensor& actual, const compiler::Tensor& expected)>;

// Runs the test in folder `test_dir` (model.onnx + test_data_set_*) on a TPU session: tiny arch, no CPU
// fallback, the given engine and precision; every output of every data set is compared with `check`
// (default: AllCloseMismatch at ONNX's rtol 1e-3, atol 1e-7). "" on success, else what failed,
// prefixed "import: ", "session: " (placement/compile refusals), "<set>: run: " or "<set>: output ...".
std::string RunOnnxTest(const std::string& test_dir, const std::string& engine,
                        compiler::Precision precision = compiler::Precision::kHighest,
                        const OutputCheck& check = nullptr);

}  // namespace tpusim::testing
