// The queued stream: an in-order queue of closures drained by one worker thread per stream.
#include <atomic>
#include <deque>
#include <new>
#include <exception>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "stream_impl.h"

namespace tpusim::driver::detail {
namespace {

uint64_t NextStreamId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

class QueuedStream final : public Stream {
 public:
  explicit QueuedStream(std::shared_ptr<StreamBackend> backend) : backend_(std::move(backend)) {}

  // Starts the worker; separate from the constructor so that a failure is a status, not a throw.
  absl::Status Start() {
    try {
      worker_ = std::thread([this] { WorkerLoop(); });
    } catch (const std::system_error& e) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot start a stream thread: ", e.what()));
    }
    return absl::OkStatus();
  }

  // Drains the queue (like cudaStreamDestroy, pending work completes), then stops the worker.
  ~QueuedStream() override {
    if (!worker_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_ready_.notify_one();
    worker_.join();
  }

  void MemcpyHostToDevice(DeviceMemory dst, const void* src, uint64_t bytes) override {
    Enqueue([backend = backend_, dst, src, bytes](uint64_t&) { return backend->CopyIn(dst, src, bytes); });
  }
  void MemcpyDeviceToHost(void* dst, DeviceMemory src, uint64_t bytes) override {
    Enqueue([backend = backend_, dst, src, bytes](uint64_t&) { return backend->CopyOut(dst, src, bytes); });
  }
  void MemcpyDeviceToDevice(DeviceMemory dst, DeviceMemory src, uint64_t bytes) override {
    Enqueue(
        [backend = backend_, dst, src, bytes](uint64_t&) { return backend->CopyWithin(dst, src, bytes); });
  }
  void MemcpyPeer(Device& dst_device, DeviceMemory dst, DeviceMemory src, uint64_t bytes) override {
    const auto* provider = dynamic_cast<const BackendProvider*>(&dst_device);
    if (provider == nullptr) {
      return Enqueue([](uint64_t&) {
        return absl::InvalidArgumentError("MemcpyPeer: the destination device is not a tpusim device");
      });
    }
    Enqueue([from = backend_, to = provider->backend(), dst, src, bytes](uint64_t&) -> absl::Status {
      if (bytes == 0) return absl::OkStatus();
      std::vector<uint8_t> bounce;
      try {
        bounce.resize(bytes);
      } catch (const std::bad_alloc&) {
        return absl::ResourceExhaustedError(
            absl::StrCat("MemcpyPeer: cannot allocate a ", bytes, "-byte host bounce buffer"));
      }
      if (absl::Status s = from->CopyOut(bounce.data(), src, bytes); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("MemcpyPeer source: ", s.message()));
      }
      if (absl::Status s = to->CopyIn(dst, bounce.data(), bytes); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("MemcpyPeer destination (", to->device_name(), "): ",
                                                   s.message()));
      }
      return absl::OkStatus();
    });
  }
  void Memset(DeviceMemory dst, uint8_t value, uint64_t bytes) override {
    Enqueue([backend = backend_, dst, value, bytes](uint64_t&) { return backend->Fill(dst, value, bytes); });
  }
  void Launch(const Executable& exe, std::vector<DeviceMemory> inputs, std::vector<DeviceMemory> outputs,
              simulator::RunStats* stats) override {
    Enqueue(backend_->MakeLaunch(exe, std::move(inputs), std::move(outputs), stats));
  }
  void LaunchHostKernel(HostKernel kernel, std::vector<DeviceMemory> buffers) override {
    Enqueue(backend_->MakeHostKernel(std::move(kernel), std::move(buffers)));
  }
  void AddHostCallback(std::function<void(const absl::Status&)> callback) override {
    Op op;
    op.always = true;
    op.fn = [callback = std::move(callback)](const absl::Status& sticky, uint64_t&) {
      if (callback) callback(sticky);
      return absl::OkStatus();
    };
    Push(std::move(op));
  }

  void RecordEvent(Event& event) override {
    auto* impl = dynamic_cast<EventImpl*>(&event);
    if (impl == nullptr) return EnqueueForeignEventError("RecordEvent");
    std::shared_ptr<EventState> state = impl->state();
    const uint64_t generation = state->BeginRecord();
    Op op;
    op.always = true;
    op.fn = [state, generation, id = id_, timed = backend_->models_time(), this](const absl::Status& sticky,
                                                                                 uint64_t& clock) {
      state->Complete(generation, sticky, clock, RecordSite{id, sequence_, timed});
      return absl::OkStatus();
    };
    Push(std::move(op));
  }

  void WaitEvent(Event& event) override {
    auto* impl = dynamic_cast<EventImpl*>(&event);
    if (impl == nullptr) return EnqueueForeignEventError("WaitEvent");
    std::shared_ptr<EventState> state = impl->state();
    const uint64_t generation = state->latest();  // an event never recorded is a no-op, as in CUDA
    if (generation == 0) return;
    Enqueue([state, generation](uint64_t&) {
      state->WaitFor(generation);
      return absl::OkStatus();
    });
  }

  absl::Status Synchronize() override {
    std::unique_lock<std::mutex> lock(mu_);
    drained_.wait(lock, [&] { return queue_.empty() && !busy_; });
    return status_;
  }

  absl::Status status() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  // One queued op: `fn` gets the sticky status and the stream clock. Unless `always` (event records,
  // host callbacks), it is skipped once the stream has failed. Its error becomes the sticky status.
  struct Op {
    std::function<absl::Status(const absl::Status& sticky, uint64_t& clock)> fn;
    bool always = false;
  };

  void Enqueue(StreamWork work) {
    Op op;
    op.fn = [work = std::move(work)](const absl::Status&, uint64_t& clock) { return work(clock); };
    Push(std::move(op));
  }

  void EnqueueForeignEventError(const char* what) {
    Enqueue([what](uint64_t&) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the event was not created by a tpusim device (CreateEvent)"));
    });
  }

  void Push(Op op) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(op));
    }
    work_ready_.notify_one();
  }

  // Runs one op; an exception escaping it (a host kernel's or callback's) becomes the op's error.
  absl::Status RunOp(const Op& op, const absl::Status& sticky) {
    try {
      return op.fn(sticky, clock_);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("stream op threw an exception: ", e.what()));
    } catch (...) {
      return absl::InternalError("stream op threw a non-standard exception");
    }
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_ready_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
      Op op = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      const absl::Status sticky = status_;
      lock.unlock();
      ++sequence_;
      absl::Status result;
      if (op.always || sticky.ok()) result = RunOp(op, sticky);
      op = Op{};  // release captured state before reporting the op done
      lock.lock();
      if (!result.ok() && status_.ok()) status_ = result;
      busy_ = false;
      if (queue_.empty()) drained_.notify_all();
    }
  }

  std::shared_ptr<StreamBackend> backend_;
  mutable std::mutex mu_;
  std::condition_variable work_ready_;  // queue_ gained an op, or stop_ was set
  std::condition_variable drained_;     // queue_ empty and no op running
  std::deque<Op> queue_;                // guarded by mu_
  bool busy_ = false;                   // guarded by mu_: the worker is running an op
  bool stop_ = false;                   // guarded by mu_
  absl::Status status_;                 // guarded by mu_: the sticky status
  uint64_t clock_ = 0;                  // worker thread only: cumulative simulated cycles
  uint64_t sequence_ = 0;               // worker thread only: ops started so far (record positions)
  const uint64_t id_ = NextStreamId();  // unique per process (RecordSite::stream_id)
  std::thread worker_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Stream>> NewQueuedStream(std::shared_ptr<StreamBackend> backend) {
  auto stream = std::make_unique<QueuedStream>(std::move(backend));
  if (absl::Status s = stream->Start(); !s.ok()) return s;
  return std::unique_ptr<Stream>(std::move(stream));
}

}  // namespace tpusim::driver::detail
