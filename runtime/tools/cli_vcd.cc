// `--vcd FILE` and `--vcd-window START:END | iSTART:iEND`: waveforms of the rtl engine's core.
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli.h"

namespace tpusim::cli {
namespace {

constexpr char kWindowForms[] = "expected START:END (cycles) or iSTART:iEND (instruction indices)";

// One side of the window: optional 'i' (instruction indices), then decimal digits only.
struct Bound {
  bool instructions = false;
  uint64_t value = 0;
};

bool ParseBound(std::string_view text, Bound& out) {
  if (!text.empty() && text.front() == 'i') {
    out.instructions = true;
    text.remove_prefix(1);
  }
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(std::string(text), &out.value);  // false on overflow of 64 bits
}

}  // namespace

absl::StatusOr<simulator::VcdWindow> ParseVcdWindow(const std::string& text) {
  const size_t colon = text.find(':');
  Bound start, end;
  if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos ||
      !ParseBound(std::string_view(text).substr(0, colon), start) ||
      !ParseBound(std::string_view(text).substr(colon + 1), end)) {
    return absl::InvalidArgumentError(absl::StrCat("--vcd-window '", text, "': ", kWindowForms));
  }
  if (start.instructions != end.instructions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--vcd-window '", text, "': START and END must both be cycles or both instruction indices (",
        kWindowForms, ")"));
  }
  if (end.value <= start.value) {
    return absl::InvalidArgumentError(absl::StrCat("--vcd-window '", text, "': END (", end.value,
                                                   ") must be greater than START (", start.value, ")"));
  }
  simulator::VcdWindow window;
  window.unit = start.instructions ? simulator::VcdWindow::Unit::kInstructions
                                   : simulator::VcdWindow::Unit::kCycles;
  window.start = start.value;
  window.end = end.value;
  return window;
}

absl::Status CheckVcdArgs(const SessionArgs& args) {
  if (!args.vcd_window.empty()) {
    absl::StatusOr<simulator::VcdWindow> window = ParseVcdWindow(args.vcd_window);
    if (!window.ok()) return window.status();
    if (args.vcd.empty()) {
      return absl::InvalidArgumentError("--vcd-window needs --vcd FILE (the waveform to write)");
    }
  }
  if (!args.vcd.empty()) {
    if (args.device == "cpu") {
      return absl::InvalidArgumentError("--vcd needs the TPU with --engine rtl; this run uses the cpu device");
    }
    if (args.engine != "rtl") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--vcd needs --engine rtl (waveforms come from the RTL core); this run uses --engine ", args.engine));
    }
  }
  return absl::OkStatus();
}

}  // namespace tpusim::cli
