// The queued stream: an in-order queue of closures drained by one worker thread per stream.
#include <deque>
#include <exception>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "stream_impl.h"

namespace tpusim::driver::detail {
namespace {

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
  void Launch(const Executable& exe, std::vector<DeviceMemory> inputs, std::vector<DeviceMemory> outputs,
              simulator::RunStats* stats) override {
    Enqueue(backend_->MakeLaunch(exe, std::move(inputs), std::move(outputs), stats));
  }
  void LaunchHostKernel(HostKernel kernel, std::vector<DeviceMemory> buffers) override {
    Enqueue(backend_->MakeHostKernel(std::move(kernel), std::move(buffers)));
  }

  void RecordEvent(Event& event) override {
    auto* impl = dynamic_cast<EventImpl*>(&event);
    if (impl == nullptr) return EnqueueForeignEventError("RecordEvent");
    std::shared_ptr<EventState> state = impl->state();
    const uint64_t generation = state->BeginRecord();
    Op op;
    op.marker = [state, generation](const absl::Status& status, uint64_t clock) {
      state->Complete(generation, status, clock);
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
  // Exactly one of `work` (skipped once the stream has failed) or `marker` (always runs, and sees the
  // sticky status and the clock) is set.
  struct Op {
    StreamWork work;
    std::function<void(const absl::Status&, uint64_t clock)> marker;
  };

  void Enqueue(StreamWork work) {
    Op op;
    op.work = std::move(work);
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

  // Runs one op; an exception escaping it (a host kernel's, say) becomes the op's error.
  absl::Status RunWork(const StreamWork& work) {
    try {
      return work(clock_);
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
      absl::Status result;
      if (op.marker) {
        op.marker(sticky, clock_);
      } else if (sticky.ok()) {
        result = RunWork(op.work);
      }
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
  std::thread worker_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Stream>> NewQueuedStream(std::shared_ptr<StreamBackend> backend) {
  auto stream = std::make_unique<QueuedStream>(std::move(backend));
  if (absl::Status s = stream->Start(); !s.ok()) return s;
  return std::unique_ptr<Stream>(std::move(stream));
}

}  // namespace tpusim::driver::detail
