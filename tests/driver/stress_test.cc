// Thread-safety stress: several threads, each with its own streams on shared devices, allocating,
// copying, filling, launching, recording and waiting on events across streams, while another thread
// reads the memory counters. Every result is checked against values the test computes itself. Run it
// under ThreadSanitizer too (README, "Tests": -DTPUSIM_TSAN=ON).
#include <atomic>
#include <thread>
#include <vector>

#include "conformance_util.h"
#include "gmock/gmock.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::driver::testing {
namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 12;

// One worker's life on `dev`: two streams, a producer and a consumer ordered by an event each round.
// Round r: the producer fills `a` with byte (seed + r) and, on tpu, runs y = x + 1 on a float view;
// the consumer waits for the event, copies `a` to `b` and back to the host.
absl::Status Worker(Device& dev, const Executable* exe, int seed) {
  TPUSIM_ASSIGN_OR_RETURN(auto producer, dev.CreateStream());
  TPUSIM_ASSIGN_OR_RETURN(auto consumer, dev.CreateStream());
  std::unique_ptr<Event> ready = dev.CreateEvent();
  std::unique_ptr<Event> consumed = dev.CreateEvent();
  for (int r = 0; r < kRounds; ++r) {
    const uint64_t bytes = 256 + 64 * ((seed + r) % 5);
    TPUSIM_ASSIGN_OR_RETURN(DeviceMemory a, dev.Allocate(bytes));
    TPUSIM_ASSIGN_OR_RETURN(DeviceMemory b, dev.Allocate(bytes));
    TPUSIM_ASSIGN_OR_RETURN(DeviceMemory x, dev.Allocate(64));
    TPUSIM_ASSIGN_OR_RETURN(DeviceMemory y, dev.Allocate(64));
    const uint8_t fill = static_cast<uint8_t>(seed * 16 + r);
    std::vector<float> xs(16, static_cast<float>(seed + r)), ys(16, 0.0f);
    std::vector<uint8_t> out(bytes, 0);
    std::atomic<int> callbacks{0};
    producer->Memset(a, fill, bytes);
    producer->MemcpyHostToDevice(x, xs.data(), 64);
    EnqueueAddOne(*producer, exe, x, y, nullptr);
    producer->RecordEvent(*ready);
    consumer->WaitEvent(*ready);
    consumer->MemcpyDeviceToDevice(b, a, bytes);
    consumer->MemcpyDeviceToHost(out.data(), b, bytes);
    consumer->MemcpyDeviceToHost(ys.data(), y, 64);
    consumer->AddHostCallback([&callbacks](const absl::Status&) { callbacks.fetch_add(1); });
    consumer->RecordEvent(*consumed);
    producer->WaitEvent(*consumed);  // the producer does not free under the consumer's feet
    TPUSIM_RETURN_IF_ERROR(producer->Synchronize());
    TPUSIM_RETURN_IF_ERROR(consumer->Synchronize());
    for (uint64_t i = 0; i < bytes; ++i) {
      if (out[i] != fill) {
        return absl::InternalError(absl::StrCat("seed ", seed, " round ", r, ": byte ", i, " is ", out[i]));
      }
    }
    for (float v : ys) {
      if (v != static_cast<float>(seed + r) + 1.0f) {  // small integers: exact
        return absl::InternalError(absl::StrCat("seed ", seed, " round ", r, ": x + 1 gave ", v));
      }
    }
    if (callbacks.load() != 1) return absl::InternalError("the host callback did not run exactly once");
    for (DeviceMemory m : {a, b, x, y}) TPUSIM_RETURN_IF_ERROR(dev.Free(m));
  }
  return absl::OkStatus();
}

class Stress : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (std::string why = Unavailable(GetParam()); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_P(Stress, ThreadsWithTheirOwnStreamsOnSharedDevicesGetCorrectData) {
  DRV_ASSIGN_OR_FAIL(Platform * platform, GetPlatform(GetParam().platform));
  if (platform->device_count() < 2) DRV_ASSERT_OK(platform->SetDeviceCount(2));
  std::vector<std::unique_ptr<Device>> devices;
  std::vector<std::vector<std::unique_ptr<Executable>>> exes(2);
  for (int d = 0; d < 2; ++d) {
    DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam(), d));
    devices.push_back(std::move(dev));
  }
  // Launches of one Executable must not overlap: one per worker.
  if (GetParam().launches_programs()) {
    DRV_ASSIGN_OR_FAIL(isa::Program program, AddOneProgram());
    for (int t = 0; t < kThreads; ++t) {
      DRV_ASSIGN_OR_FAIL(auto exe, devices[t % 2]->LoadProgram(program));
      exes[t % 2].push_back(std::move(exe));
    }
  }
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      for (const auto& dev : devices) {
        const MemoryStats s = dev->memory_stats();
        EXPECT_LE(s.bytes_in_use, s.peak_bytes_in_use);
        EXPECT_LE(s.bytes_in_use, s.bytes_limit);
      }
      std::this_thread::yield();
    }
  });
  std::vector<absl::Status> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    const Executable* exe = GetParam().launches_programs() ? exes[t % 2][t / 2].get() : nullptr;
    threads.emplace_back([&, t, exe] { statuses[t] = Worker(*devices[t % 2], exe, t + 1); });
  }
  for (std::thread& t : threads) t.join();
  done.store(true);
  watcher.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(statuses[t].ok()) << "thread " << t << ": " << statuses[t];
  for (const auto& dev : devices) {
    const MemoryStats s = dev->memory_stats();
    EXPECT_EQ(s.num_allocs, GetParam().launches_programs() ? 2u : 0u);  // the executables' frames
    EXPECT_EQ(s.total_allocs, (GetParam().launches_programs() ? 2u : 0u) + 2u * kRounds * 4u);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Stress, ::testing::ValuesIn(AllBackends()), BackendName);

}  // namespace
}  // namespace tpusim::driver::testing
