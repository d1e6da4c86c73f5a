// Several devices per platform (tpu:0..N-1), their independence, and the event-timing refusals.
#include <future>
#include <thread>
#include <vector>

#include "conformance_util.h"
#include "gmock/gmock.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::driver::testing {
namespace {

using ::testing::HasSubstr;

// Sets the tpu platform to `count` devices for one test and restores the previous count after.
class TpuDeviceCount {
 public:
  explicit TpuDeviceCount(int count) {
    platform_ = *GetPlatform("tpu");
    previous_ = platform_->device_count();
    EXPECT_TRUE(platform_->SetDeviceCount(count).ok());
  }
  ~TpuDeviceCount() { (void)platform_->SetDeviceCount(previous_); }

 private:
  Platform* platform_ = nullptr;
  int previous_ = 1;
};

TEST(MultiDevice, DeviceCountOptionOpensTpu0ToTpuNMinus1) {
  TpuDeviceCount four(4);
  DRV_ASSIGN_OR_FAIL(Platform * tpu, GetPlatform("tpu"));
  EXPECT_EQ(tpu->device_count(), 4);
  for (int i = 0; i < 4; ++i) {
    DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(Backend{"tpu", "functional"}, i));
    EXPECT_EQ(dev->ordinal(), i);
    EXPECT_EQ(dev->name(), absl::StrCat("/job:localhost/replica:0/task:0/device:TPU:", i));
  }
  absl::StatusOr<std::unique_ptr<Device>> fifth = OpenBackend(Backend{"tpu", "functional"}, 4);
  EXPECT_EQ(fifth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fifth.status().message(), HasSubstr("ordinal 4 is out of range [0, 4)"));
}

TEST(MultiDevice, DeviceCountOutsideOneTo64IsInvalidArgument) {
  DRV_ASSIGN_OR_FAIL(Platform * tpu, GetPlatform("tpu"));
  const int before = tpu->device_count();
  EXPECT_EQ(tpu->SetDeviceCount(0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tpu->SetDeviceCount(65).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tpu->device_count(), before);
}

TEST(MultiDevice, DevicesHaveIndependentMemoryAndStats) {
  TpuDeviceCount two(2);
  DRV_ASSIGN_OR_FAIL(auto d0, OpenBackend(Backend{"tpu", "functional"}, 0));
  DRV_ASSIGN_OR_FAIL(auto d1, OpenBackend(Backend{"tpu", "functional"}, 1));
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, d0->Allocate(512));
  DRV_ASSIGN_OR_FAIL(DeviceMemory b, d1->Allocate(512));
  // Each device's DRAM is its own: the same address may be handed out by both.
  EXPECT_EQ(a.address, b.address);
  DRV_ASSERT_OK(d0->CopyToDevice(a, std::vector<uint8_t>(512, 1).data(), 512));
  DRV_ASSERT_OK(d1->CopyToDevice(b, std::vector<uint8_t>(512, 2).data(), 512));
  std::vector<uint8_t> out0(512), out1(512);
  DRV_ASSERT_OK(d0->CopyFromDevice(out0.data(), a, 512));
  DRV_ASSERT_OK(d1->CopyFromDevice(out1.data(), b, 512));
  EXPECT_EQ(out0, std::vector<uint8_t>(512, 1));
  EXPECT_EQ(out1, std::vector<uint8_t>(512, 2));
  EXPECT_EQ(d0->memory_stats().num_allocs, 1u);
  DRV_ASSERT_OK(d1->Free(b));
  EXPECT_EQ(d1->memory_stats().bytes_in_use, 0u);
  EXPECT_EQ(d0->memory_stats().bytes_in_use, 512u);
  // An allocation of one device is not one of the other's.
  EXPECT_EQ(d1->Free(a).code(), absl::StatusCode::kInvalidArgument);
}

TEST(MultiDevice, ConcurrentLaunchesOnTwoDevicesEachComputeTheirOwnResult) {
  TpuDeviceCount two(2);
  DRV_ASSIGN_OR_FAIL(isa::Program program, AddOneProgram());
  std::vector<std::vector<float>> results(2);
  std::vector<absl::Status> statuses(2);
  std::vector<std::thread> threads;
  for (int d = 0; d < 2; ++d) {
    threads.emplace_back([&, d] {
      statuses[d] = [&]() -> absl::Status {
        TPUSIM_ASSIGN_OR_RETURN(auto dev, OpenBackend(Backend{"tpu", "cycle"}, d));
        TPUSIM_ASSIGN_OR_RETURN(auto exe, dev->LoadProgram(program));
        TPUSIM_ASSIGN_OR_RETURN(auto stream, dev->CreateStream());
        TPUSIM_ASSIGN_OR_RETURN(DeviceMemory x, dev->Allocate(64));
        TPUSIM_ASSIGN_OR_RETURN(DeviceMemory y, dev->Allocate(64));
        std::vector<float> in(16, static_cast<float>(10 * d));  // device 0: zeros, device 1: tens
        results[d].assign(16, 0.0f);
        for (int round = 0; round < 5; ++round) {  // y = x + 1, then x = y: five rounds add 5
          stream->MemcpyHostToDevice(x, in.data(), 64);
          EnqueueAddOne(*stream, exe.get(), x, y, nullptr);
          stream->MemcpyDeviceToHost(in.data(), y, 64);
        }
        stream->MemcpyDeviceToHost(results[d].data(), y, 64);
        return stream->Synchronize();
      }();
    });
  }
  for (std::thread& t : threads) t.join();
  DRV_ASSERT_OK(statuses[0]);
  DRV_ASSERT_OK(statuses[1]);
  EXPECT_EQ(results[0], std::vector<float>(16, 5.0f));   // 0 + 5
  EXPECT_EQ(results[1], std::vector<float>(16, 15.0f));  // 10 + 5
}

TEST(EventTiming, EventsOnDifferentStreamsAreFailedPrecondition) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(Backend{"tpu", "cycle"}));
  DRV_ASSIGN_OR_FAIL(auto s1, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(auto s2, dev->CreateStream());
  std::unique_ptr<Event> a = dev->CreateEvent(), b = dev->CreateEvent();
  s1->RecordEvent(*a);
  s2->RecordEvent(*b);
  DRV_ASSERT_OK(s1->Synchronize());
  DRV_ASSERT_OK(s2->Synchronize());
  absl::StatusOr<uint64_t> elapsed = ElapsedCycles(*a, *b);
  EXPECT_EQ(elapsed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(elapsed.status().message(), HasSubstr("different streams"));
}

TEST(EventTiming, NeverRecordedIsFailedPreconditionAndPendingIsUnavailable) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(Backend{"tpu", "cycle"}));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  std::unique_ptr<Event> a = dev->CreateEvent(), b = dev->CreateEvent();
  EXPECT_EQ(ElapsedCycles(*a, *b).status().code(), absl::StatusCode::kFailedPrecondition);
  std::promise<void> release;
  stream->RecordEvent(*a);
  stream->AddHostCallback([gate = release.get_future().share()](const absl::Status&) { gate.wait(); });
  stream->RecordEvent(*b);  // behind the blocked callback: not completed until released
  a->Synchronize().IgnoreError();
  absl::StatusOr<uint64_t> pending = ElapsedCycles(*a, *b);
  EXPECT_EQ(pending.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pending.status().message(), HasSubstr("not completed"));
  release.set_value();
  DRV_ASSERT_OK(b->Synchronize());
  DRV_ASSIGN_OR_FAIL(uint64_t elapsed, ElapsedCycles(*a, *b));
  EXPECT_EQ(elapsed, 0u);  // nothing ran between them but a host callback
}

}  // namespace
}  // namespace tpusim::driver::testing
