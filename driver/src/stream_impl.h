// Private pieces shared by the backends: the device seam a stream runs its work against, the shared
// state behind an Event, and the queued stream (one worker thread per stream).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/driver/driver.h"

namespace tpusim::driver::detail {

// One unit of stream work. Runs on the stream's worker thread; `clock` is the stream's cumulative
// simulated cycles (owned by the worker thread), to which a launch adds its cycles.
using StreamWork = std::function<absl::Status(uint64_t& clock)>;

// What a stream needs from its device. Streams hold it by shared_ptr, so a device's core outlives its
// streams and executables whatever order the user destroys them in. Every method is thread-safe
// (streams of one device call it concurrently). The Memcpy* methods run on the worker thread and
// validate their operands (errors name the device address); the Make* methods run on the enqueuing
// thread, capture what the work needs (never a reference to a caller's object) and return the work.
class StreamBackend {
 public:
  virtual ~StreamBackend() = default;
  virtual absl::Status CopyIn(DeviceMemory dst, const void* src, uint64_t bytes) = 0;
  virtual absl::Status CopyOut(void* dst, DeviceMemory src, uint64_t bytes) = 0;
  virtual absl::Status CopyWithin(DeviceMemory dst, DeviceMemory src, uint64_t bytes) = 0;
  virtual absl::Status Fill(DeviceMemory dst, uint8_t value, uint64_t bytes) = 0;
  virtual StreamWork MakeLaunch(const Executable& exe, std::vector<DeviceMemory> inputs,
                                std::vector<DeviceMemory> outputs, simulator::RunStats* stats) = 0;
  virtual StreamWork MakeHostKernel(HostKernel kernel, std::vector<DeviceMemory> buffers) = 0;
  // True if launches report simulated cycles (a timing engine): events may then be timed.
  virtual bool models_time() const = 0;
  // The device name used in messages.
  virtual const std::string& device_name() const = 0;
};

// Implemented by every Device of this driver: the backend its streams run against (MemcpyPeer's
// destination side).
class BackendProvider {
 public:
  virtual ~BackendProvider() = default;
  virtual std::shared_ptr<StreamBackend> backend() const = 0;
};

// Where and when a record ran: the recording stream (unique per process, from 1), the record's
// position among that stream's ops, and whether its device models time.
struct RecordSite {
  uint64_t stream_id = 0;
  uint64_t sequence = 0;
  bool timed = false;
};

// The state of one Event, shared by the Event object and the stream ops that record or wait on it
// (so an Event may be destroyed while its markers are still queued). Thread-safe.
class EventState {
 public:
  // Called when RecordEvent is enqueued; returns the record's generation (1, 2, ...).
  uint64_t BeginRecord();
  // Called by the recording stream's worker when the marker runs.
  void Complete(uint64_t generation, const absl::Status& status, uint64_t cycles, RecordSite site);
  // The newest generation recorded so far (0 if never recorded).
  uint64_t latest() const;
  // Blocks until record `generation` (and every earlier one) has completed; 0 returns at once.
  void WaitFor(uint64_t generation) const;

  bool Query() const;
  absl::Status Synchronize() const;
  uint64_t cycles() const;
  // A consistent snapshot for ElapsedCycles.
  struct Snapshot {
    uint64_t recorded = 0;
    uint64_t completed = 0;
    absl::Status status;
    uint64_t cycles = 0;
    RecordSite site;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable done_;
  uint64_t recorded_ = 0;   // generations handed out
  uint64_t completed_ = 0;  // highest generation completed
  absl::Status status_;
  uint64_t cycles_ = 0;
  RecordSite site_;
};

// The Event implementation every device's CreateEvent returns.
class EventImpl final : public Event {
 public:
  EventImpl() : state_(std::make_shared<EventState>()) {}
  bool Query() const override { return state_->Query(); }
  absl::Status Synchronize() override { return state_->Synchronize(); }
  uint64_t cycles() const override { return state_->cycles(); }
  const std::shared_ptr<EventState>& state() const { return state_; }

 private:
  std::shared_ptr<EventState> state_;
};

// A stream over `backend`: starts its worker thread; ResourceExhausted if the thread cannot start.
absl::StatusOr<std::unique_ptr<Stream>> NewQueuedStream(std::shared_ptr<StreamBackend> backend);

}  // namespace tpusim::driver::detail
