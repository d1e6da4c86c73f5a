// Run reports: JSON keys, values, escaping and syntactic validity; the text summary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tpusim/isa/isa.h"
#include "tpusim/runtime/report.h"

namespace tpusim::runtime {
namespace {

using ::testing::HasSubstr;

// A strict recursive-descent JSON syntax check (RFC 8259), written for this test.
class JsonChecker {
 public:
  explicit JsonChecker(const std::string& s) : s_(s) {}
  bool Valid() {
    Space();
    if (!Value()) return false;
    Space();
    return i_ == s_.size();
  }

 private:
  void Space() { while (i_ < s_.size() && std::strchr(" \t\r\n", s_[i_]) != nullptr) ++i_; }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) { ++i_; return true; }
    return false;
  }
  bool Literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(i_, n, word) != 0) return false;
    i_ += n;
    return true;
  }
  bool String() {
    if (!Eat('"')) return false;
    while (i_ < s_.size()) {
      const unsigned char c = s_[i_++];
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        const char e = s_[i_++];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_++]))) return false;
          }
        } else if (std::strchr("\"\\/bfnrt", e) == nullptr) {
          return false;
        }
      }
    }
    return false;
  }
  bool Number() {
    const size_t start = i_;
    Eat('-');
    while (i_ < s_.size() && std::strchr("0123456789.eE+-", s_[i_]) != nullptr) ++i_;
    return i_ > start && std::isdigit(static_cast<unsigned char>(s_[i_ - 1]));
  }
  bool Value() {
    Space();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      Space();
      if (Eat('}')) return true;
      do {
        Space();
        if (!String()) return false;
        Space();
        if (!Eat(':') || !Value()) return false;
        Space();
      } while (Eat(','));
      return Eat('}');
    }
    if (c == '[') {
      ++i_;
      Space();
      if (Eat(']')) return true;
      do {
        if (!Value()) return false;
        Space();
      } while (Eat(','));
      return Eat(']');
    }
    if (c == '"') return String();
    if (c == 't') return Literal("true");
    if (c == 'f') return Literal("false");
    if (c == 'n') return Literal("null");
    return Number();
  }
  const std::string& s_;
  size_t i_ = 0;
};

struct Fixture {
  RunReport report;
  std::vector<Placement> placements;
  ReportInfo info;
};

Fixture MakeFixture() {
  Fixture f;
  f.report.wall_seconds = 0.25;
  f.report.compile_seconds = 0.125;
  f.report.tpu_launches = 1;
  simulator::RunStats& s = f.report.tpu;
  s.engine = "functional";
  s.by_opcode[isa::OpcodeIndex(isa::Opcode::LOAD)] = 3;
  s.by_opcode[isa::OpcodeIndex(isa::Opcode::MATMUL)] = 2;
  s.by_opcode[isa::OpcodeIndex(isa::Opcode::HALT)] = 1;
  s.instructions = 6;
  s.macs = 1024;
  s.useful_macs = 768;
  s.dram_to_ub_bytes = 4096;
  s.ub_to_dram_bytes = 512;
  s.dram_to_weights_bytes = 2048;
  s.op_instructions = {5, 1};
  s.op_macs = {1024, 0};
  f.report.tpu_op_names = {"fc1", "relu"};
  f.placements = {{"fc1", "MatMul", kTpuDeviceName, ""},
                  {"pick", "ArgMax", kCpuDeviceName, "ArgMax is not supported on the TPU: \"x\"\n"}};
  f.info = {"m\\odel.onnx", "functional", "tiny", "tpu", "bf16"};
  return f;
}

TEST(ReportJson, IsValidJsonWithEveryRequiredKey) {
  const Fixture f = MakeFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  for (const char* key : {"\"engine\": \"functional\"", "\"arch\": \"tiny\"", "\"device\": \"tpu\"",
                          "\"precision\": \"bf16\"", "\"wall_seconds\": 0.25", "\"compile_seconds\": 0.125",
                          "\"total\": 6", "\"macs\": 1024", "\"useful_macs\": 768", "\"dram_to_ub\": 4096",
                          "\"ub_to_dram\": 512", "\"dram_to_weights\": 2048", "\"cycles\": null"}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
}

TEST(ReportJson, ListsEveryOpcodeEvenWhenZero) {
  const Fixture f = MakeFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  for (isa::Opcode op : isa::AllOpcodes()) {
    EXPECT_THAT(json, HasSubstr(absl::StrCat("\"", std::string(isa::Mnemonic(op)), "\": ")));
  }
  EXPECT_THAT(json, HasSubstr("\"LOAD\": 3"));
  EXPECT_THAT(json, HasSubstr("\"MATMUL\": 2"));
  EXPECT_THAT(json, HasSubstr("\"STORE\": 0"));
}

TEST(ReportJson, HasPerOpTableAndEscapedPlacements) {
  const Fixture f = MakeFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  EXPECT_THAT(json, HasSubstr("\"op\": \"fc1\""));
  EXPECT_THAT(json, HasSubstr("\"op_type\": \"ArgMax\""));
  EXPECT_THAT(json, HasSubstr("\"model\": \"m\\\\odel.onnx\""));
  EXPECT_THAT(json, HasSubstr("the TPU: \\\"x\\\"\\n\""));
}

TEST(ReportJson, TimingEngineCyclesAreANumberAndControlCharactersAreEscaped) {
  Fixture f = MakeFixture();
  f.report.tpu.cycles = 12345;
  f.info.model = std::string("a\x01" "b\tc");
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_THAT(json, HasSubstr("\"cycles\": 12345"));
  EXPECT_THAT(json, HasSubstr("\"a\\u0001b\\tc\""));
}

TEST(ReportText, SummarizesPlacementOpcodesAndBytes) {
  const Fixture f = MakeFixture();
  const std::string text = ReportToText(f.report, f.placements, f.info);
  EXPECT_THAT(text, HasSubstr("1 op(s) on the TPU, 1 on the CPU: pick (ArgMax)"));
  EXPECT_THAT(text, HasSubstr("instructions: 6 (LOAD 3, MATMUL 2, HALT 1)"));
  EXPECT_THAT(text, HasSubstr("DRAM->UB 4.10 kB"));
  EXPECT_THAT(text, HasSubstr("fc1"));
}

}  // namespace
}  // namespace tpusim::runtime
