// One driver conformance suite, run against every backend: cpu, and tpu on the functional, cycle and
// rtl engines (tiny arch). Each test checks a driver contract; a test that does not apply to a backend
// (program launches on cpu, cycle timing on untimed devices) checks that backend's refusal instead.
#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <vector>

#include "conformance_util.h"
#include "gmock/gmock.h"

namespace tpusim::driver::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Conformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (std::string why = Unavailable(GetParam()); !why.empty()) GTEST_SKIP() << why;
  }
};

std::vector<float> Ramp16() {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = 0.25f * static_cast<float>(i) - 2.0f;  // -2.0, -1.75, ..., 1.75
  return v;
}

TEST_P(Conformance, AsyncCopiesRoundTripHostDeviceDeviceHost) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(1000));
  DRV_ASSIGN_OR_FAIL(DeviceMemory b, dev->Allocate(1000));
  std::vector<uint8_t> in(1000), out(1000, 0);
  for (int i = 0; i < 1000; ++i) in[i] = static_cast<uint8_t>(i * 7 + 3);
  stream->MemcpyHostToDevice(a, in.data(), 1000);
  stream->MemcpyDeviceToDevice(b, a, 1000);
  stream->MemcpyDeviceToHost(out.data(), b, 1000);
  DRV_ASSERT_OK(stream->Synchronize());
  EXPECT_EQ(out, in);
}

TEST_P(Conformance, MemsetFillsExactlyTheGivenRange) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory m, dev->Allocate(64));
  std::vector<uint8_t> out(64, 0);
  stream->Memset(m, 0x11, 64);
  stream->Memset(DeviceMemory{m.address + 8, 56}, 0xAB, 16);  // bytes [8, 24)
  stream->MemcpyDeviceToHost(out.data(), m, 64);
  DRV_ASSERT_OK(stream->Synchronize());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], (i >= 8 && i < 24) ? 0xAB : 0x11) << i;
}

TEST_P(Conformance, MemsetPastTheAllocationIsStickyOutOfRange) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory m, dev->Allocate(64));
  stream->Memset(m, 0, 65);
  const absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(s.message(), HasSubstr("Memset"));
}

TEST_P(Conformance, HostCallbacksRunInStreamOrderAfterEarlierWork) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory m, dev->Allocate(4));
  std::vector<std::string> log;  // written only by the stream's worker thread
  uint32_t host = 0;
  stream->Memset(m, 0x5A, 4);
  stream->MemcpyDeviceToHost(&host, m, 4);
  stream->AddHostCallback([&](const absl::Status& s) { log.push_back(absl::StrCat("cb1 ", s.ok(), " ", host)); });
  stream->Memset(m, 0x01, 4);
  stream->MemcpyDeviceToHost(&host, m, 4);
  stream->AddHostCallback([&](const absl::Status&) { log.push_back(absl::StrCat("cb2 ", host)); });
  DRV_ASSERT_OK(stream->Synchronize());
  // 0x5A5A5A5A = 1515870810; 0x01010101 = 16843009.
  EXPECT_THAT(log, ElementsAre("cb1 1 1515870810", "cb2 16843009"));
}

TEST_P(Conformance, HostCallbackRunsAfterAFailureAndSeesTheStickyError) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory m, dev->Allocate(16));
  DRV_ASSERT_OK(dev->Free(m));
  absl::Status seen;
  bool ran = false;
  stream->Memset(m, 0, 16);  // freed: fails
  stream->AddHostCallback([&](const absl::Status& s) {
    seen = s;
    ran = true;
  });
  EXPECT_EQ(stream->Synchronize().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ran);
  EXPECT_EQ(seen.code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(Conformance, HostCallbackExceptionBecomesTheStickyError) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  stream->AddHostCallback([](const absl::Status&) { throw std::runtime_error("callback boom"); });
  const absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("callback boom"));
}

TEST_P(Conformance, StickyErrorSkipsLaterWorkAndLeavesOtherStreamsAlone) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto bad, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(auto good, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory m, dev->Allocate(8));
  uint64_t host = 0;
  bad->MemcpyDeviceToHost(&host, DeviceMemory{m.address, 16}, 16);  // 16 bytes from an 8-byte block
  bad->Memset(m, 0xFF, 8);                                          // skipped: the stream failed
  const absl::Status first = bad->Synchronize();
  EXPECT_EQ(first.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(bad->status(), first);
  bad->Memset(m, 0xFF, 8);  // still skipped, and the status stays the first error
  EXPECT_EQ(bad->Synchronize(), first);
  good->MemcpyDeviceToHost(&host, m, 8);
  DRV_ASSERT_OK(good->Synchronize());
  EXPECT_EQ(host, 0u) << "the skipped memsets must not have run";  // fresh memory: cpu zeroes, tpu DRAM starts 0
}

TEST_P(Conformance, EventOrdersWorkAcrossStreams) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto producer, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(auto consumer, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory m, dev->Allocate(4096));
  std::vector<uint8_t> out(4096, 0);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::unique_ptr<Event> filled = dev->CreateEvent();
  // The producer is held by a callback until the consumer's work is queued, so only the event can
  // make the consumer see the memset.
  producer->AddHostCallback([gate](const absl::Status&) { gate.wait(); });
  producer->Memset(m, 0xC3, 4096);
  producer->RecordEvent(*filled);
  consumer->WaitEvent(*filled);
  consumer->MemcpyDeviceToHost(out.data(), m, 4096);
  EXPECT_FALSE(filled->Query());
  release.set_value();
  DRV_ASSERT_OK(consumer->Synchronize());
  EXPECT_TRUE(filled->Query());
  EXPECT_EQ(out, std::vector<uint8_t>(4096, 0xC3));
  DRV_ASSERT_OK(producer->Synchronize());
}

TEST_P(Conformance, MemoryStatsTrackInUsePeakAndLimit) {
  constexpr uint64_t kLimit = 64 * 1024;
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam(), 0, kLimit));
  MemoryStats s = dev->memory_stats();
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.bytes_limit, kLimit);
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(1000));  // reserves 1024 (256-byte alignment)
  DRV_ASSIGN_OR_FAIL(DeviceMemory b, dev->Allocate(256));   // reserves 256
  s = dev->memory_stats();
  EXPECT_EQ(s.bytes_in_use, 1280u);
  EXPECT_EQ(s.num_allocs, 2u);
  DRV_ASSERT_OK(dev->Free(a));
  s = dev->memory_stats();
  EXPECT_EQ(s.bytes_in_use, 256u);
  EXPECT_EQ(s.peak_bytes_in_use, 1280u);
  EXPECT_EQ(s.num_allocs, 1u);
  EXPECT_EQ(s.total_allocs, 2u);
  EXPECT_EQ(s.largest_free_block, kLimit - 256);
  DRV_ASSERT_OK(dev->Free(b));
}

TEST_P(Conformance, AllocationBeyondTheLimitIsResourceExhaustedNamingSizes) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam(), 0, 4096));
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(3000));  // reserves 3072 of 4096
  absl::StatusOr<DeviceMemory> b = dev->Allocate(1500);     // would reserve 1536 > 1024 left
  ASSERT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(b.status().message(), HasSubstr("1500 bytes"));
  EXPECT_THAT(b.status().message(), HasSubstr("3072 bytes in use"));
  EXPECT_THAT(b.status().message(), HasSubstr("4096-byte memory limit"));
  DRV_ASSIGN_OR_FAIL(DeviceMemory c, dev->Allocate(1024));  // exactly what is left
  EXPECT_EQ(dev->memory_stats().bytes_in_use, 4096u);
  DRV_ASSERT_OK(dev->Free(a));
  DRV_ASSERT_OK(dev->Free(c));
}

TEST_P(Conformance, LimitAboveTheDeviceMemoryIsRejectedAtOpen) {
  absl::StatusOr<std::unique_ptr<Device>> dev = OpenBackend(GetParam(), 0, uint64_t{1} << 62);
  EXPECT_EQ(dev.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dev.status().message(), HasSubstr("memory_limit_bytes"));
}

TEST_P(Conformance, AddOneLaunchComputesXPlusOne) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  std::unique_ptr<Executable> exe;
  if (GetParam().launches_programs()) {
    DRV_ASSIGN_OR_FAIL(isa::Program program, AddOneProgram());
    DRV_ASSIGN_OR_FAIL(exe, dev->LoadProgram(program));
  }
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory x, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(64));
  const std::vector<float> in = Ramp16();
  std::vector<float> out(16, 0.0f);
  stream->MemcpyHostToDevice(x, in.data(), 64);
  EnqueueAddOne(*stream, exe.get(), x, y, nullptr);
  stream->MemcpyDeviceToHost(out.data(), y, 64);
  DRV_ASSERT_OK(stream->Synchronize());
  // Multiples of 0.25 in [-2, 1.75] plus 1 are exact in fp32 (and in bf16): -1.0, -0.75, ..., 2.75.
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i], 0.25f * static_cast<float>(i) - 1.0f) << i;
}

TEST_P(Conformance, ElapsedCyclesCountTheLaunchesBetweenTwoEventsOnTimingEngines) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenBackend(GetParam()));
  std::unique_ptr<Executable> exe;
  if (GetParam().launches_programs()) {
    DRV_ASSIGN_OR_FAIL(isa::Program program, AddOneProgram());
    DRV_ASSIGN_OR_FAIL(exe, dev->LoadProgram(program));
  }
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory x, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(64));
  simulator::RunStats first, second, third;
  std::unique_ptr<Event> start = dev->CreateEvent(), end = dev->CreateEvent();
  EnqueueAddOne(*stream, exe.get(), x, y, &first);  // before `start`: not counted
  stream->RecordEvent(*start);
  EnqueueAddOne(*stream, exe.get(), x, y, &second);
  stream->MemcpyDeviceToDevice(x, y, 64);  // copies take no simulated cycles
  EnqueueAddOne(*stream, exe.get(), x, y, &third);
  stream->RecordEvent(*end);
  DRV_ASSERT_OK(stream->Synchronize());
  absl::StatusOr<uint64_t> elapsed = ElapsedCycles(*start, *end);
  if (!GetParam().timed()) {
    EXPECT_EQ(elapsed.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(elapsed.status().message(), HasSubstr("timing engine"));
    return;
  }
  ASSERT_TRUE(elapsed.ok()) << elapsed.status();
  // Exactly the two launches recorded between the events, as each launch's engine counted them.
  ASSERT_GT(second.cycles, 0u);
  EXPECT_EQ(*elapsed, second.cycles + third.cycles);
  EXPECT_EQ(end->cycles() - start->cycles(), *elapsed);
  EXPECT_EQ(start->cycles(), first.cycles);
  EXPECT_EQ(ElapsedCycles(*end, *start).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(Conformance, PeerCopyMovesBytesToAnotherDevice) {
  DRV_ASSIGN_OR_FAIL(Platform * platform, GetPlatform(GetParam().platform));
  if (platform->device_count() < 2) DRV_ASSERT_OK(platform->SetDeviceCount(2));
  DRV_ASSIGN_OR_FAIL(auto dev0, OpenBackend(GetParam(), 0));
  DRV_ASSIGN_OR_FAIL(auto dev1, OpenBackend(GetParam(), 1));
  DRV_ASSIGN_OR_FAIL(auto cpu, OpenBackend(Backend{"cpu", ""}));
  DRV_ASSIGN_OR_FAIL(DeviceMemory src, dev0->Allocate(300));
  DRV_ASSIGN_OR_FAIL(DeviceMemory dst, dev1->Allocate(300));
  DRV_ASSIGN_OR_FAIL(DeviceMemory on_cpu, cpu->Allocate(300));
  DRV_ASSIGN_OR_FAIL(auto s0, dev0->CreateStream());
  DRV_ASSIGN_OR_FAIL(auto s1, dev1->CreateStream());
  std::vector<uint8_t> in(300), out(300, 0), out_cpu(300, 0);
  for (int i = 0; i < 300; ++i) in[i] = static_cast<uint8_t>(255 - i % 256);
  std::unique_ptr<Event> copied = dev0->CreateEvent();
  s0->MemcpyHostToDevice(src, in.data(), 300);
  s0->MemcpyPeer(*dev1, dst, src, 300);
  s0->MemcpyPeer(*cpu, on_cpu, src, 300);
  s0->RecordEvent(*copied);
  s1->WaitEvent(*copied);  // events order streams of different devices too
  s1->MemcpyDeviceToHost(out.data(), dst, 300);
  DRV_ASSERT_OK(s1->Synchronize());
  DRV_ASSERT_OK(s0->Synchronize());
  DRV_ASSERT_OK(cpu->CopyFromDevice(out_cpu.data(), on_cpu, 300));
  EXPECT_EQ(out, in);
  EXPECT_EQ(out_cpu, in);
  // A destination range the other device does not hold is a sticky error on the source stream.
  s0->MemcpyPeer(*dev1, DeviceMemory{dst.address, 400}, src, 400);
  const absl::Status s = s0->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(s.message(), HasSubstr("MemcpyPeer source"));  // 400 bytes do not fit the 300-byte source
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::ValuesIn(AllBackends()), BackendName);

}  // namespace
}  // namespace tpusim::driver::testing
