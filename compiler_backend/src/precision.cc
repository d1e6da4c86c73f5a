// Names of CompileOptions' precision (the CLI's --precision flag) and schedule values.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {

absl::StatusOr<Precision> ParsePrecision(std::string_view name) {
  if (name == "bf16") return Precision::kBf16;
  if (name == "high") return Precision::kHigh;
  if (name == "highest") return Precision::kHighest;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown precision '", std::string(name), "': expected one of bf16, high, highest"));
}

std::string_view PrecisionName(Precision p) {
  switch (p) {
    case Precision::kBf16: return "bf16";
    case Precision::kHigh: return "high";
    case Precision::kHighest: return "highest";
  }
  TPUSIM_UNREACHABLE();
}

absl::StatusOr<Schedule> ParseSchedule(std::string_view name) {
  if (name == "tokens") return Schedule::kTokens;
  if (name == "serial") return Schedule::kSerial;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown schedule '", std::string(name), "': expected one of tokens, serial"));
}

std::string_view ScheduleName(Schedule s) {
  switch (s) {
    case Schedule::kTokens: return "tokens";
    case Schedule::kSerial: return "serial";
  }
  TPUSIM_UNREACHABLE();
}

}  // namespace tpusim::compiler
