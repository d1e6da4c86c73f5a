// KernelThread (kernel_thread.h).
#include "kernel_thread.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace tpusim::simulator::cycle {
namespace {

struct Task {
  const std::function<void()>* body;
  bool done = false;
};

// Shared with the detached thread, so never destroyed.
struct Shared {
  std::mutex mu;
  std::condition_variable work;  // a task was queued
  std::condition_variable done;  // a task finished
  std::deque<Task*> tasks;
};

Shared& TheShared() {
  static Shared* shared = new Shared;
  return *shared;
}

}  // namespace

KernelThread& KernelThread::Get() {
  static KernelThread* thread = new KernelThread;
  return *thread;
}

KernelThread::KernelThread() {
  std::thread([this] { Loop(); }).detach();
}

void KernelThread::Loop() {
  Shared& s = TheShared();
  while (true) {
    Task* task = nullptr;
    {
      std::unique_lock<std::mutex> lock(s.mu);
      s.work.wait(lock, [&] { return !s.tasks.empty(); });
      task = s.tasks.front();
      s.tasks.pop_front();
    }
    (*task->body)();
    {
      std::lock_guard<std::mutex> lock(s.mu);
      task->done = true;
    }
    s.done.notify_all();
  }
}

void KernelThread::Run(const std::function<void()>& body, const std::function<void()>& on_wait,
                       std::chrono::milliseconds period) {
  Shared& s = TheShared();
  Task task{&body};
  std::unique_lock<std::mutex> lock(s.mu);
  s.tasks.push_back(&task);
  s.work.notify_one();
  while (!task.done) {
    if (on_wait) {
      if (!s.done.wait_for(lock, period, [&] { return task.done; })) {
        lock.unlock();
        on_wait();
        lock.lock();
      }
    } else {
      s.done.wait(lock, [&] { return task.done; });
    }
  }
}

}  // namespace tpusim::simulator::cycle
