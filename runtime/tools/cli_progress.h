// A progress line on stderr for long runs. Nothing is printed for runs shorter than the delay (2 s),
// so quick commands and their error output stay clean. On a terminal the line rewrites itself
// ('\r', every 0.25 s) and is erased at the end; otherwise a line is printed every 5 s.
// Thread-safety: Update may be called from any thread (the engines call it from the stream's
// worker); the reporter owns one printing thread, joined by Stop or the destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace tpusim::cli {

class ProgressLine {
 public:
  // Starts the clock and the printing thread (none when !enabled).
  explicit ProgressLine(bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // The latest state of the run: launch index (0-based) of the run, simulated cycles of that launch,
  // instructions completed / in its program.
  void Update(int launch, uint64_t cycles, uint64_t instructions_done, uint64_t instructions_total);
  // Stops printing and erases the line (terminal); idempotent.
  void Stop();

 private:
  void Loop();
  void Print(bool tty, double seconds);

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start_;
  std::atomic<int> launch_{-1};
  std::atomic<uint64_t> cycles_{0};
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> total_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  bool printed_ = false;   // printing thread only (read by Stop after the join)
  bool tty_ = false;
  std::thread thread_;
};

}  // namespace tpusim::cli
