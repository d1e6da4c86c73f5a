// Events (record, query, synchronize, wait across streams) and host kernels on the cpu backend.
#include <future>
#include <stdexcept>
#include <vector>

#include "driver_test_util.h"
#include "gmock/gmock.h"

namespace tpusim::driver::testing {
namespace {

using ::testing::HasSubstr;

TEST(Event, NeverRecordedIsNotCompleteAndSynchronizesAtOnce) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  std::unique_ptr<Event> event = dev->CreateEvent();
  EXPECT_FALSE(event->Query());
  DRV_ASSERT_OK(event->Synchronize());
  // Waiting on an event never recorded is a no-op.
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  stream->WaitEvent(*event);
  DRV_ASSERT_OK(stream->Synchronize());
}

TEST(Event, CompletesWithTheWorkRecordedBeforeIt) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(4096));
  std::vector<uint8_t> src(4096, 5), dst(4096, 0);
  std::unique_ptr<Event> first = dev->CreateEvent(), second = dev->CreateEvent();
  stream->RecordEvent(*first);
  stream->MemcpyHostToDevice(a, src.data(), src.size());
  stream->MemcpyDeviceToHost(dst.data(), a, dst.size());
  stream->RecordEvent(*second);
  DRV_ASSERT_OK(second->Synchronize());
  EXPECT_TRUE(second->Query());
  EXPECT_TRUE(first->Query());  // recorded earlier on the same in-order stream
  EXPECT_EQ(dst, src);          // the copies recorded before `second` are done
  EXPECT_LE(first->cycles(), second->cycles());
}

TEST(Event, RecordedAfterAFailureCarriesTheStickyError) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  std::unique_ptr<Event> before = dev->CreateEvent(), after = dev->CreateEvent();
  uint8_t byte = 0;
  stream->RecordEvent(*before);
  stream->MemcpyHostToDevice(DeviceMemory{0x123400, 1}, &byte, 1);  // never allocated
  stream->RecordEvent(*after);
  DRV_ASSERT_OK(before->Synchronize());
  absl::Status s = after->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("0x123400"));
  EXPECT_TRUE(after->Query());  // completed, with an error
}

TEST(Event, WaitEventOrdersWorkAcrossStreams) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(auto producer, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(auto consumer, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory cell, dev->Allocate(sizeof(int)));
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  // The producer's kernel cannot finish before the gate opens; it then writes 42.
  producer->LaunchHostKernel(
      [opened](const std::vector<void*>& buffers) {
        opened.wait();
        *static_cast<int*>(buffers[0]) = 42;
        return absl::OkStatus();
      },
      {cell});
  std::unique_ptr<Event> produced = dev->CreateEvent(), consumed = dev->CreateEvent();
  producer->RecordEvent(*produced);
  int seen = -1;
  consumer->WaitEvent(*produced);
  consumer->MemcpyDeviceToHost(&seen, cell, sizeof(int));
  consumer->RecordEvent(*consumed);
  // Nothing after the wait can have run: the producer is still held at the gate.
  const bool consumed_early = consumed->Query();
  const bool produced_early = produced->Query();
  gate.set_value();
  EXPECT_FALSE(consumed_early);
  EXPECT_FALSE(produced_early);
  DRV_ASSERT_OK(consumer->Synchronize());
  EXPECT_EQ(seen, 42);
  EXPECT_TRUE(produced->Query());
}

TEST(HostKernel, RunsWithHostPointersOfItsBuffers) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory in, dev->Allocate(16 * sizeof(float)));
  DRV_ASSIGN_OR_FAIL(DeviceMemory out, dev->Allocate(16 * sizeof(float)));
  std::vector<float> x(16), y(16, 0.0f);
  for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i);
  // The third buffer is a sub-range of `out` starting 8 floats in.
  const DeviceMemory out_tail{out.address + 8 * sizeof(float), 8 * sizeof(float)};
  bool tail_pointer_ok = false;
  stream->MemcpyHostToDevice(in, x.data(), 16 * sizeof(float));
  stream->LaunchHostKernel(
      [&tail_pointer_ok](const std::vector<void*>& b) {
        const float* src = static_cast<const float*>(b[0]);
        float* dst = static_cast<float*>(b[1]);
        for (int i = 0; i < 16; ++i) dst[i] = 2.0f * src[i] + 1.0f;
        tail_pointer_ok = b.size() == 3 && b[2] == dst + 8;
        return absl::OkStatus();
      },
      {in, out, out_tail});
  stream->MemcpyDeviceToHost(y.data(), out, 16 * sizeof(float));
  DRV_ASSERT_OK(stream->Synchronize());
  EXPECT_TRUE(tail_pointer_ok);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[i], 2.0f * i + 1.0f) << i;  // 1, 3, 5, ..., 31
}

TEST(HostKernel, ErrorItReturnsIsSticky) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  int later_runs = 0;
  stream->LaunchHostKernel([](const std::vector<void*>&) { return absl::InternalError("kernel blew up"); },
                           {});
  stream->LaunchHostKernel(
      [&later_runs](const std::vector<void*>&) {
        ++later_runs;
        return absl::OkStatus();
      },
      {});
  absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("kernel blew up"));
  EXPECT_EQ(later_runs, 0);
  EXPECT_EQ(stream->status(), s);
}

TEST(HostKernel, ExceptionBecomesAnErrorNotACrash) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  stream->LaunchHostKernel(
      [](const std::vector<void*>&) -> absl::Status { throw std::runtime_error("oops"); }, {});
  absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("oops"));
}

TEST(HostKernel, FreedBufferFailsBeforeTheKernelRuns) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory gone, dev->Allocate(64));
  DRV_ASSERT_OK(dev->Free(gone));
  bool ran = false;
  stream->LaunchHostKernel(
      [&ran](const std::vector<void*>&) {
        ran = true;
        return absl::OkStatus();
      },
      {gone});
  absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(Hex(gone.address)));
  EXPECT_FALSE(ran);
}

TEST(HostKernel, OnATpuDeviceIsAStickyFailedPrecondition) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  bool ran = false;
  stream->LaunchHostKernel(
      [&ran](const std::vector<void*>&) {
        ran = true;
        return absl::OkStatus();
      },
      {});
  absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace tpusim::driver::testing
