// The per-op conformance table of docs/conformance.md, printed as Markdown:
//   TPUSIM_CONFORMANCE_TABLE=1 build/tests/test_runtime --gtest_filter='OnnxConformanceTable.*'
// For every claimed op type (TpuClaimedOpTypes) and every libonnx-testdata directory: how many tests use
// the op, how many of those are in the directory's pass list, and the main reasons the others fail
// (a test that also uses an unclaimed op is not tried: counted, with its unclaimed ops, in the last
// column; a claimed-op candidate not in the list is run on the functional engine at `highest` and its
// failure classified). Then one summary row per directory.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <regex>
#include <set>

#include "onnx_test_data.h"

namespace tpusim::runtime {
namespace {

using testing::OnnxTestDir;
using testing::OnnxTestDirs;

// A short cause for a failed candidate, from RunOnnxTest's message.
std::string Classify(const std::string& failure) {
  std::smatch m;
  static const std::regex kDtype("has data type ([A-Z0-9]+)");
  static const std::regex kTensors("on ([a-z0-9]+) tensors is not supported");
  static const std::regex kRefusal("(\\w+): not supported on the TPU \\((.*?)\\) and (CPU fallback|no CPU kernel)");
  static const std::regex kShape("\\[[0-9,]*\\]");
  static const std::regex kNode(" \\(node '[^']*'\\)");
  if (std::regex_search(failure, m, kDtype)) return absl::StrCat(m[1].str(), " data (import)");
  if (failure.find("is not a tensor") != std::string::npos) return "sequence/optional values (import)";
  if (std::regex_search(failure, m, kTensors)) return absl::StrCat(m[1].str(), " data");
  if (failure.find("training") != std::string::npos) return "training-mode BatchNormalization";
  if (std::regex_search(failure, m, kRefusal)) {
    std::string why = m[2].str();
    if (why.rfind(m[1].str() + " ", 0) == 0) why = why.substr(m[1].str().size() + 1);
    return absl::StrCat(m[1].str(), ": ", why.substr(0, 90));
  }
  if (failure.find(": output '") != std::string::npos) return "wrong values";
  std::string text = std::regex_replace(std::regex_replace(failure, kShape, "[..]"), kNode, "");
  for (const char* prefix : {"session: ", "import: ", "INVALID_ARGUMENT: ", "UNIMPLEMENTED: "}) {
    if (text.rfind(prefix, 0) == 0) text = text.substr(std::string(prefix).size());
  }
  return text.substr(0, 90);
}

struct Cell {
  int used = 0, passing = 0;
};

struct Row {
  std::map<std::string, Cell> by_dir;
  std::map<std::string, int> reasons;    // failing candidates: cause -> tests (all directories)
  std::map<std::string, int> unclaimed;  // tests not tried: unclaimed op they use -> tests
  int blocked = 0;                       // tests not tried (they use some unclaimed op)
};

std::string TopReasons(const std::map<std::string, int>& reasons, const char* sep = " (", const char* end = ")") {
  std::vector<std::pair<int, std::string>> sorted;
  for (const auto& [r, n] : reasons) sorted.emplace_back(-n, r);
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < 3; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : "; ", sorted[i].second, sep, -sorted[i].first, end);
  }
  if (sorted.size() > 3) absl::StrAppend(&out, "; +", sorted.size() - 3, " more");
  return out.empty() ? "—" : out;
}

TEST(OnnxConformanceTable, PrintsMarkdown) {
  const char* flag = std::getenv("TPUSIM_CONFORMANCE_TABLE");
  if (flag == nullptr || std::string(flag) != "1") GTEST_SKIP() << "set TPUSIM_CONFORMANCE_TABLE=1 to print";
  const std::set<std::string>& claimed = testing::TpuClaimedOpTypes();
  std::map<std::string, Row> rows;
  struct Summary {
    size_t tests = 0, candidates = 0, passing = 0;
  };
  std::map<std::string, Summary> summary;
  for (const std::string& dir : OnnxTestDirs()) {
    const std::vector<std::string> list = testing::ConformancePassList(dir);
    const std::set<std::string> pass(list.begin(), list.end());
    for (const std::string& name : testing::OnnxTestNames(dir)) {
      const std::set<std::string> ops = testing::ModelOpTypes(OnnxTestDir(dir, name) + "/model.onnx");
      std::vector<std::string> unclaimed;
      for (const std::string& op : ops) {
        if (claimed.count(op) == 0) unclaimed.push_back(op);
      }
      ++summary[dir].tests;
      summary[dir].candidates += unclaimed.empty();
      const bool passing = pass.count(name) != 0;
      summary[dir].passing += passing;
      // Why a candidate fails: the classified failure of its run.
      std::vector<std::string> reasons;
      if (!passing) {
        if (unclaimed.empty()) {
          const std::string failure = testing::RunOnnxTest(OnnxTestDir(dir, name), "functional");
          reasons.push_back(failure.empty() ? "passes, not yet in the pass list" : Classify(failure));
        }
      }
      for (const std::string& op : ops) {
        if (claimed.count(op) == 0) continue;
        Row& row = rows[op];
        ++row.by_dir[dir].used;
        row.by_dir[dir].passing += passing;
        for (const std::string& r : reasons) ++row.reasons[r];
        for (const std::string& u : unclaimed) ++row.unclaimed[u];
        row.blocked += !unclaimed.empty();
      }
    }
  }
  std::cout << "| Op |";
  for (const std::string& dir : OnnxTestDirs()) std::cout << " " << dir << " |";
  std::cout << " Candidates failing: main causes (tests) | Not tried: tests, unclaimed ops they use (tests) |\n|---|";
  for (size_t i = 0; i < OnnxTestDirs().size(); ++i) std::cout << "---|";
  std::cout << "---|---|\n";
  for (const std::string& op : claimed) {
    const Row& row = rows[op];
    std::cout << "| " << op << " |";
    for (const std::string& dir : OnnxTestDirs()) {
      auto it = row.by_dir.find(dir);
      if (it == row.by_dir.end()) {
        std::cout << " — |";
      } else {
        std::cout << " " << it->second.passing << " / " << it->second.used << " |";
      }
    }
    std::cout << " " << TopReasons(row.reasons) << " | ";
    if (row.blocked == 0) {
      std::cout << "— |\n";
    } else {
      std::cout << row.blocked << ": " << TopReasons(row.unclaimed, " ", "") << " |\n";
    }
  }
  std::cout << "\n| Directory | Tests | Candidates (all ops claimed) | Passing (pass list) |\n|---|---|---|---|\n";
  for (const std::string& dir : OnnxTestDirs()) {
    const Summary& s = summary[dir];
    std::cout << "| " << dir << " | " << s.tests << " | " << s.candidates << " | " << s.passing << " |\n";
  }
}

}  // namespace
}  // namespace tpusim::runtime
