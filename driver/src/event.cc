#include <algorithm>

#include "stream_impl.h"

namespace tpusim::driver::detail {

uint64_t EventState::BeginRecord() {
  std::lock_guard<std::mutex> lock(mu_);
  return ++recorded_;
}

void EventState::Complete(uint64_t generation, const absl::Status& status, uint64_t cycles) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Records on different streams may complete out of order; the newest generation wins.
    if (generation <= completed_) return;
    completed_ = generation;
    status_ = status;
    cycles_ = cycles;
  }
  done_.notify_all();
}

uint64_t EventState::latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recorded_;
}

void EventState::WaitFor(uint64_t generation) const {
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return completed_ >= generation; });
}

bool EventState::Query() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recorded_ > 0 && completed_ >= recorded_;
}

absl::Status EventState::Synchronize() const {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = recorded_;
  done_.wait(lock, [&] { return completed_ >= target; });
  return status_;
}

uint64_t EventState::cycles() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cycles_;
}

}  // namespace tpusim::driver::detail
