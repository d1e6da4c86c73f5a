// Loading, validating and deriving facts from the target description (ArchConfig, arch_config.proto).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/arch_config.pb.h"

namespace tpusim::isa {

// Names of the presets shipped in configs/ ("tiny", "tpu-v1", "tpu-v4", "rtl-16x16").
std::vector<std::string> PresetNames();
// A preset by name (embedded in the library at build time from configs/<name>.textproto).
absl::StatusOr<ArchConfig> LoadPreset(std::string_view name);
// Parses protobuf text format and validates. `origin` names the source in errors (a file name).
absl::StatusOr<ArchConfig> ParseArchConfig(std::string_view text, std::string_view origin);
// Reads and parses a file.
absl::StatusOr<ArchConfig> LoadArchConfigFile(const std::string& path);
// A preset name or a path to a .textproto file.
absl::StatusOr<ArchConfig> LoadArch(std::string_view name_or_path);
// Every field in range; errors read "<origin>: field 'array_rows' = 0 is out of range [1, 4096]".
absl::Status ValidateArchConfig(const ArchConfig& cfg, std::string_view origin);
std::string ArchConfigToText(const ArchConfig& cfg);

// ---- Derived facts (the one place they are computed) ----------------------------------------------
// Elements per UB row: max(array_rows, array_cols).
uint32_t UbLanes(const ArchConfig& cfg);
// Bytes one UB element occupies in the given matmul mode: 4 (fp32) in BF16_FP32, 1 in INT8_INT32.
uint32_t UbElementBytes(MatmulType mode);
// UB rows available in a mode: ub_bytes / (lanes * element bytes).
uint64_t UbRows(const ArchConfig& cfg, MatmulType mode);
bool SupportsMatmulType(const ArchConfig& cfg, MatmulType mode);
// Peak multiply-accumulates per cycle (array_rows * array_cols * mxu_count).
uint64_t PeakMacsPerCycle(const ArchConfig& cfg);

}  // namespace tpusim::isa
