// ArchConfig: presets, derived facts, and validation errors that name origin, field and range.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tpusim/isa/arch_config.h"

namespace tpusim::isa {
namespace {

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

ArchConfig Tiny() {
  absl::StatusOr<ArchConfig> cfg = LoadPreset("tiny");
  EXPECT_TRUE(cfg.ok()) << cfg.status();
  return cfg.ok() ? *cfg : ArchConfig();
}

TEST(ArchConfig, AllPresetsLoadAndValidate) {
  std::vector<std::string> names = PresetNames();
  EXPECT_EQ(names, (std::vector<std::string>{"tiny", "tpu-v1", "tpu-v4", "rtl-16x16"}));
  for (const std::string& name : names) {
    absl::StatusOr<ArchConfig> cfg = LoadArch(name);
    ASSERT_TRUE(cfg.ok()) << name << ": " << cfg.status();
    EXPECT_EQ(cfg->name(), name);
    EXPECT_TRUE(ValidateArchConfig(*cfg, name).ok());
  }
}

TEST(ArchConfig, PresetsMatchTheirPublishedShapes) {
  ArchConfig tiny = Tiny();
  EXPECT_EQ(UbLanes(tiny), 8u);
  EXPECT_EQ(UbRows(tiny, BF16_FP32), 512u);  // 16384 / (8 lanes * 4 bytes)
  EXPECT_EQ(PeakMacsPerCycle(tiny), 64u);    // 8 * 8 * 1
  EXPECT_TRUE(SupportsMatmulType(tiny, INT8_INT32));

  absl::StatusOr<ArchConfig> v1 = LoadPreset("tpu-v1");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(UbRows(*v1, INT8_INT32), 98304u);  // 24 MiB / (256 lanes * 1 byte)
  EXPECT_FALSE(SupportsMatmulType(*v1, BF16_FP32));

  absl::StatusOr<ArchConfig> v4 = LoadPreset("tpu-v4");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(PeakMacsPerCycle(*v4), 65536u);  // 128 * 128 * 4 MXUs
  EXPECT_EQ(UbElementBytes(BF16_FP32), 4u);
}

TEST(ArchConfig, UnknownArchIsNotFoundAndListsPresets) {
  absl::StatusOr<ArchConfig> cfg = LoadArch("tpu-v99");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(cfg.status(), "tiny, tpu-v1, tpu-v4")) << cfg.status();
  EXPECT_EQ(LoadPreset("huge").status().code(), absl::StatusCode::kNotFound);
}

TEST(ArchConfig, LoadArchReadsATextprotoFile) {
  std::string path = ::testing::TempDir() + "/arch_config_test_custom.textproto";
  ArchConfig custom = Tiny();
  custom.set_name("custom");
  custom.set_array_rows(16);
  {
    std::ofstream out(path);
    out << ArchConfigToText(custom);
  }
  absl::StatusOr<ArchConfig> cfg = LoadArch(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->name(), "custom");
  EXPECT_EQ(cfg->array_rows(), 16u);
  EXPECT_EQ(cfg->SerializeAsString(), custom.SerializeAsString());
}

TEST(ArchConfig, InvalidValuesNameOriginFieldAndRange) {
  ArchConfig cfg = Tiny();
  cfg.set_array_rows(0);
  absl::Status s = ValidateArchConfig(cfg, "my.textproto");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "my.textproto: field 'array_rows' = 0 is out of range [1, 4096]")) << s;

  cfg = Tiny();
  cfg.set_mxu_count(65);
  s = ValidateArchConfig(cfg, "x");
  EXPECT_TRUE(Contains(s, "'mxu_count' = 65 is out of range [1, 64]")) << s;

  cfg = Tiny();
  cfg.set_clock_mhz(0);
  EXPECT_TRUE(Contains(ValidateArchConfig(cfg, "x"), "'clock_mhz' = 0 is out of range (0, 10000]"));

  cfg = Tiny();
  cfg.set_ub_bytes(100);  // less than 4 rows of 8 lanes * 4 bytes = 128
  s = ValidateArchConfig(cfg, "x");
  EXPECT_TRUE(Contains(s, "'ub_bytes' = 100 is out of range [128, 1073741824]")) << s;

  cfg = Tiny();
  cfg.set_dram_bytes(1000);
  EXPECT_TRUE(Contains(ValidateArchConfig(cfg, "x"), "'dram_bytes' = 1000 is out of range"));

  cfg = Tiny();
  cfg.set_weight_fifo_depth(0);
  EXPECT_TRUE(Contains(ValidateArchConfig(cfg, "x"), "'weight_fifo_depth' = 0 is out of range [1, 64]"));

  cfg = Tiny();
  cfg.set_dram_bandwidth_gbps(-1);
  EXPECT_TRUE(Contains(ValidateArchConfig(cfg, "x"), "'dram_bandwidth_gbps' = -1"));

  cfg = Tiny();
  cfg.set_name("");
  EXPECT_TRUE(Contains(ValidateArchConfig(cfg, "x"), "'name' is empty"));
}

TEST(ArchConfig, BothDataflowsAreAcceptedAndUnspecifiedIsRejected) {
  ArchConfig cfg = Tiny();
  cfg.set_dataflow(OUTPUT_STATIONARY);
  EXPECT_TRUE(ValidateArchConfig(cfg, "x").ok()) << ValidateArchConfig(cfg, "x");
  cfg.set_dataflow(WEIGHT_STATIONARY);
  EXPECT_TRUE(ValidateArchConfig(cfg, "x").ok());
  cfg.set_dataflow(DATAFLOW_UNSPECIFIED);
  absl::Status s = ValidateArchConfig(cfg, "x");
  EXPECT_TRUE(Contains(s, "x: field 'dataflow' = DATAFLOW_UNSPECIFIED is invalid (expected "
                          "WEIGHT_STATIONARY or OUTPUT_STATIONARY)")) << s;
  cfg.set_dataflow(static_cast<Dataflow>(7));  // an enum value from a newer writer
  s = ValidateArchConfig(cfg, "x");
  EXPECT_TRUE(Contains(s, "'dataflow' = 7 is invalid")) << s;
}

TEST(ArchConfig, OutputStationaryParsesFromText) {
  std::string text = ArchConfigToText(Tiny());
  const size_t at = text.find("dataflow: WEIGHT_STATIONARY");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::string("dataflow: WEIGHT_STATIONARY").size(), "dataflow: OUTPUT_STATIONARY");
  absl::StatusOr<ArchConfig> cfg = ParseArchConfig(text, "os.textproto");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->dataflow(), OUTPUT_STATIONARY);
}

TEST(ArchConfig, EmptyMatmulTypesRejected) {
  ArchConfig cfg = Tiny();
  cfg.clear_matmul_types();
  absl::Status s = ValidateArchConfig(cfg, "x");
  EXPECT_TRUE(Contains(s, "'matmul_types' is empty")) << s;
  cfg.add_matmul_types(MATMUL_TYPE_UNSPECIFIED);
  EXPECT_TRUE(Contains(ValidateArchConfig(cfg, "x"), "matmul_types[0]"));
}

TEST(ArchConfig, TextParseErrorsNameOriginAndLine) {
  absl::StatusOr<ArchConfig> cfg = ParseArchConfig("name: \"x\"\narray_rows: banana\n", "bad.textproto");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(cfg.status(), "bad.textproto:2:")) << cfg.status();

  cfg = ParseArchConfig("\n\n\nno_such_field: 1\n", "other.textproto");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(Contains(cfg.status(), "other.textproto:4:")) << cfg.status();
  EXPECT_TRUE(Contains(cfg.status(), "no_such_field")) << cfg.status();
}

TEST(ArchConfig, ParsedTextIsValidatedWithItsOrigin) {
  std::string text = ArchConfigToText(Tiny());
  size_t pos = text.find("array_cols: 8\n");
  ASSERT_NE(pos, std::string::npos) << text;
  text.replace(pos, 14, "array_cols: 5000\n");
  absl::StatusOr<ArchConfig> cfg = ParseArchConfig(text, "big.textproto");
  ASSERT_FALSE(cfg.ok());
  EXPECT_TRUE(Contains(cfg.status(), "big.textproto: field 'array_cols' = 5000")) << cfg.status();
}

}  // namespace
}  // namespace tpusim::isa
