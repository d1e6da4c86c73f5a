#include <algorithm>

#include "absl/strings/str_cat.h"
#include "stream_impl.h"

namespace tpusim::driver {
namespace detail {

uint64_t EventState::BeginRecord() {
  std::lock_guard<std::mutex> lock(mu_);
  return ++recorded_;
}

void EventState::Complete(uint64_t generation, const absl::Status& status, uint64_t cycles,
                          RecordSite site) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Records on different streams may complete out of order; the newest generation wins.
    if (generation <= completed_) return;
    completed_ = generation;
    status_ = status;
    cycles_ = cycles;
    site_ = site;
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

EventState::Snapshot EventState::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Snapshot{recorded_, completed_, status_, cycles_, site_};
}

}  // namespace detail

absl::StatusOr<uint64_t> ElapsedCycles(const Event& start, const Event& end) {
  const auto* a = dynamic_cast<const detail::EventImpl*>(&start);
  const auto* b = dynamic_cast<const detail::EventImpl*>(&end);
  if (a == nullptr || b == nullptr) {
    return absl::InvalidArgumentError("ElapsedCycles: an event was not created by a tpusim device (CreateEvent)");
  }
  const detail::EventState::Snapshot s = a->state()->snapshot();
  const detail::EventState::Snapshot e = b->state()->snapshot();
  if (s.recorded == 0 || e.recorded == 0) {
    return absl::FailedPreconditionError(absl::StrCat("ElapsedCycles: the ", s.recorded == 0 ? "start" : "end",
                                                      " event was never recorded"));
  }
  if (s.completed < s.recorded || e.completed < e.recorded) {
    return absl::UnavailableError(absl::StrCat("ElapsedCycles: the ",
                                               s.completed < s.recorded ? "start" : "end",
                                               " event has not completed yet (not ready)"));
  }
  if (!s.status.ok()) return s.status;
  if (!e.status.ok()) return e.status;
  if (s.site.stream_id != e.site.stream_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("ElapsedCycles: the events were recorded on different streams (", s.site.stream_id,
                     " and ", e.site.stream_id, "); cycles are counted per stream"));
  }
  if (!s.site.timed) {
    return absl::FailedPreconditionError(
        "ElapsedCycles: the events were recorded on a device without a timing engine (cpu or the "
        "functional engine); open the tpu device with engine 'cycle' or 'rtl'");
  }
  if (e.site.sequence < s.site.sequence) {
    return absl::InvalidArgumentError(absl::StrCat("ElapsedCycles: the end event (stream op ", e.site.sequence,
                                                   ") was recorded before the start event (stream op ",
                                                   s.site.sequence, ")"));
  }
  return e.cycles - s.cycles;
}

}  // namespace tpusim::driver
