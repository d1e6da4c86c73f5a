// The one thread of this process that may touch the SystemC kernel (it is not thread-safe, and it
// allows one elaboration per process). Started on first use and never stopped; launches from any
// number of threads are queued and run one at a time.
#pragma once

#include <chrono>
#include <functional>

namespace tpusim::simulator::cycle {

class KernelThread {
 public:
  static KernelThread& Get();
  // Runs `task` on the kernel thread and blocks until it has finished. While waiting, calls
  // `on_wait` on the calling thread every `period` (if given). `task` must not throw.
  void Run(const std::function<void()>& task, const std::function<void()>& on_wait,
           std::chrono::milliseconds period);

 private:
  KernelThread();
  void Loop();
};

}  // namespace tpusim::simulator::cycle
