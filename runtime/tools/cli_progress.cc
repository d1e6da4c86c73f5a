#include "cli_progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"

namespace tpusim::cli {
namespace {

constexpr std::chrono::milliseconds kDelay(2000);
constexpr std::chrono::milliseconds kTerminalPeriod(250);
constexpr std::chrono::milliseconds kLogPeriod(5000);

// "12.3 M" style, decimal.
std::string Count(uint64_t v) {
  if (v < 10000) return absl::StrFormat("%d", v);
  const char* units[] = {"k", "M", "G", "T"};
  double x = static_cast<double>(v) / 1000;
  int u = 0;
  while (x >= 1000 && u < 3) { x /= 1000; ++u; }
  return absl::StrFormat("%.1f %s", x, units[u]);
}

}  // namespace

ProgressLine::ProgressLine(bool enabled) : start_(Clock::now()) {
  if (!enabled) return;
  tty_ = ::isatty(STDERR_FILENO) != 0;
  thread_ = std::thread([this] { Loop(); });
}

ProgressLine::~ProgressLine() { Stop(); }

void ProgressLine::Update(int launch, uint64_t cycles, uint64_t instructions_done, uint64_t instructions_total) {
  launch_.store(launch, std::memory_order_relaxed);
  cycles_.store(cycles, std::memory_order_relaxed);
  done_.store(instructions_done, std::memory_order_relaxed);
  total_.store(instructions_total, std::memory_order_relaxed);
}

void ProgressLine::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (printed_ && tty_) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void ProgressLine::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  if (wake_.wait_for(lock, kDelay, [this] { return stopping_; })) return;
  const auto period = tty_ ? kTerminalPeriod : kLogPeriod;
  do {
    Print(tty_, std::chrono::duration<double>(Clock::now() - start_).count());
  } while (!wake_.wait_for(lock, period, [this] { return stopping_; }));
}

void ProgressLine::Print(bool tty, double seconds) {
  std::string line = absl::StrFormat("tpusim: %.0f s elapsed", seconds);
  const int launch = launch_.load(std::memory_order_relaxed);
  if (launch >= 0) {
    const uint64_t total = total_.load(std::memory_order_relaxed);
    const uint64_t done = done_.load(std::memory_order_relaxed);
    line += absl::StrFormat("; TPU launch %d: %s cycles simulated, %s/%s instructions", launch + 1,
                            Count(cycles_.load(std::memory_order_relaxed)), Count(done), Count(total));
    if (total > 0) line += absl::StrFormat(" (%.0f%%)", 100.0 * done / total);
  }
  if (tty) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
  printed_ = true;
}

}  // namespace tpusim::cli
