// ONNX backend tests (Debian's libonnx-testdata: node/, pytorch-converted/, pytorch-operator/, simple/)
// on the TPU: every op on the TPU (no CPU fallback), tiny arch, precision `highest`, compared with the
// shipped outputs at ONNX's backend-test tolerance (rtol 1e-3, atol 1e-7, what onnx's backend test
// runner uses, for every directory). One parameterised suite over (directory, test, engine), one
// instantiation per directory: every TPU engine must pass (the engines' bit-for-bit agreement is
// engine_equivalence_test.cc). Debian's real/ holds only download pointers (data.json), so it is not run.
//
// The tests run are those listed in the per-directory pass lists (onnx_test_data.h
// ConformancePassListPath: tests/onnx_conformance_pass.txt for node/, tests/onnx_conformance_pass_<dir>.txt
// for the others); each list may only grow. To regenerate them, run with TPUSIM_CONFORMANCE_SCAN=1:
//   TPUSIM_CONFORMANCE_SCAN=1 build/tests/test_runtime --gtest_filter='OnnxConformanceScan.*'
// which tries, in every directory, each test whose op types are all claimed (TpuClaimedOpTypes) and
// prints PASS/FAIL lines, then each directory's pass list. The per-op table of docs/conformance.md is
// onnx_conformance_table_test.cc; the bf16 run is onnx_conformance_bf16_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <set>
#include <tuple>

#include "onnx_test_data.h"

namespace tpusim::runtime {
namespace {

using testing::ConformancePassList;
using testing::OnnxTestDir;
using testing::OnnxTestDirs;

// The TPU engines every conformance test runs on.
const std::vector<std::string> kEngines = {"functional", "cycle"};

// (directory, test, engine).
using DirTestEngine = std::tuple<std::string, std::string, std::string>;
class OnnxConformance : public ::testing::TestWithParam<DirTestEngine> {};

TEST_P(OnnxConformance, MatchesShippedOutputsAtHighestPrecision) {
  const auto& [dir, test, engine] = GetParam();
  const std::string failure = testing::RunOnnxTest(OnnxTestDir(dir, test), engine);
  EXPECT_EQ(failure, "") << dir << "/" << test << " on the " << engine << " engine";
}

std::string ParamName(const ::testing::TestParamInfo<DirTestEngine>& info) {
  return std::get<1>(info.param) + "_" + std::get<2>(info.param);
}

auto Params(const std::string& dir) {
  return ::testing::Combine(::testing::Values(dir), ::testing::ValuesIn(ConformancePassList(dir)),
                            ::testing::ValuesIn(kEngines));
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxConformance);
INSTANTIATE_TEST_SUITE_P(OnnxNodeTests, OnnxConformance, Params("node"), ParamName);
INSTANTIATE_TEST_SUITE_P(OnnxPytorchConvertedTests, OnnxConformance, Params("pytorch-converted"), ParamName);
INSTANTIATE_TEST_SUITE_P(OnnxPytorchOperatorTests, OnnxConformance, Params("pytorch-operator"), ParamName);
INSTANTIATE_TEST_SUITE_P(OnnxSimpleTests, OnnxConformance, Params("simple"), ParamName);

// Every pass list is sorted without duplicates, names an existing test, and (node/) is non-empty.
TEST(OnnxConformancePassList, IsNonEmptySortedAndHasNoDuplicates) {
  ASSERT_FALSE(testing::ConformancePassList().empty());
  for (const std::string& dir : OnnxTestDirs()) {
    const std::vector<std::string> names = ConformancePassList(dir);
    for (size_t i = 1; i < names.size(); ++i) {
      EXPECT_LT(names[i - 1], names[i]) << testing::ConformancePassListPath(dir) << " at " << names[i];
    }
    for (const std::string& name : names) {
      EXPECT_TRUE(std::filesystem::exists(OnnxTestDir(dir, name) + "/model.onnx")) << dir << "/" << name;
    }
  }
}

// Tries every claimed-op candidate of `dir` on the functional engine; prints PASS/FAIL lines and the
// list of those that pass (the content of the directory's pass list).
void ScanDirectory(const std::string& dir) {
  const char* scan = std::getenv("TPUSIM_CONFORMANCE_SCAN");
  if (scan == nullptr || std::string(scan) != "1") GTEST_SKIP() << "set TPUSIM_CONFORMANCE_SCAN=1 to scan";
  const std::vector<std::string> candidates = testing::ConformanceCandidates(dir);
  std::vector<std::string> passed;
  for (const std::string& name : candidates) {
    const std::string failure = testing::RunOnnxTest(OnnxTestDir(dir, name), "functional");
    std::cout << (failure.empty() ? "PASS " : "FAIL ") << dir << "/" << name << (failure.empty() ? "" : ": ")
              << failure << "\n";
    if (failure.empty()) passed.push_back(name);
  }
  std::cout << dir << ": " << passed.size() << " of " << candidates.size() << " candidate tests pass (of "
            << testing::OnnxTestNames(dir).size() << " tests). Pass list for "
            << testing::ConformancePassListPath(dir) << ":\n";
  for (const std::string& name : passed) std::cout << name << "\n";
}

TEST(OnnxConformanceScan, SupportedNodeTests) { ScanDirectory("node"); }
TEST(OnnxConformanceScan, SupportedPytorchConvertedTests) { ScanDirectory("pytorch-converted"); }
TEST(OnnxConformanceScan, SupportedPytorchOperatorTests) { ScanDirectory("pytorch-operator"); }
TEST(OnnxConformanceScan, SupportedSimpleTests) { ScanDirectory("simple"); }

}  // namespace
}  // namespace tpusim::runtime
