// Stream copies on both backends: round trips, operand validation, sticky errors, concurrency.
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "driver_test_util.h"
#include "gmock/gmock.h"

namespace tpusim::driver::testing {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 7 * i);
  return v;
}

class StreamCopy : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamCopy, HostDeviceDeviceHostRoundTrip) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(1000));
  DRV_ASSIGN_OR_FAIL(DeviceMemory b, dev->Allocate(1000));
  const std::vector<uint8_t> src = Pattern(1000, 3);
  std::vector<uint8_t> dst(1000, 0);
  stream->MemcpyHostToDevice(a, src.data(), 1000);
  stream->MemcpyDeviceToDevice(b, a, 1000);
  stream->MemcpyDeviceToHost(dst.data(), b, 1000);
  DRV_ASSERT_OK(stream->Synchronize());
  EXPECT_EQ(dst, src);
}

TEST_P(StreamCopy, SubrangesAddressBytesInsideAnAllocation) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(512));
  const std::vector<uint8_t> zeros(512, 0), mid = Pattern(100, 50);
  std::vector<uint8_t> out(512, 0xff);
  stream->MemcpyHostToDevice(a, zeros.data(), 512);
  stream->MemcpyHostToDevice(DeviceMemory{a.address + 200, 100}, mid.data(), 100);
  stream->MemcpyDeviceToHost(out.data(), a, 512);
  DRV_ASSERT_OK(stream->Synchronize());
  std::vector<uint8_t> expected(512, 0);
  std::copy(mid.begin(), mid.end(), expected.begin() + 200);
  EXPECT_EQ(out, expected);
}

TEST_P(StreamCopy, SynchronousConveniencesRoundTrip) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(64));
  const std::vector<uint8_t> src = Pattern(64, 9);
  std::vector<uint8_t> dst(64, 0);
  DRV_ASSERT_OK(dev->CopyToDevice(a, src.data(), 64));
  DRV_ASSERT_OK(dev->CopyFromDevice(dst.data(), a, 64));
  EXPECT_EQ(dst, src);
  DRV_ASSERT_OK(dev->Free(a));
  absl::Status freed = dev->CopyToDevice(a, src.data(), 64);
  EXPECT_EQ(freed.code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StreamCopy, CopyToAFreedAddressIsStickyAndSkipsLaterWork) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory gone, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory live, dev->Allocate(64));
  DRV_ASSERT_OK(dev->Free(gone));
  const std::vector<uint8_t> src = Pattern(64, 1);
  std::vector<uint8_t> dst(64, 0xaa);
  stream->MemcpyHostToDevice(gone, src.data(), 64);
  stream->MemcpyHostToDevice(live, src.data(), 64);  // skipped: the stream has failed
  stream->MemcpyDeviceToHost(dst.data(), live, 64);  // skipped
  absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(Hex(gone.address)));
  EXPECT_EQ(dst, std::vector<uint8_t>(64, 0xaa));
  EXPECT_EQ(stream->status(), s);
  // Still sticky for work enqueued after the Synchronize.
  stream->MemcpyDeviceToHost(dst.data(), live, 64);
  EXPECT_EQ(stream->Synchronize(), s);
  EXPECT_EQ(dst, std::vector<uint8_t>(64, 0xaa));
}

TEST_P(StreamCopy, CopyPastTheEndOfItsAllocationIsOutOfRange) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(64));
  std::vector<uint8_t> host(128, 0);
  // The DeviceMemory claims 128 bytes, but the allocation holds only 64.
  stream->MemcpyHostToDevice(DeviceMemory{a.address + 32, 128}, host.data(), 128);
  absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(s.message(), HasSubstr(Hex(a.address + 32)));
}

TEST_P(StreamCopy, CopyLargerThanItsBufferIsOutOfRange) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(64));
  std::vector<uint8_t> host(65, 0);
  stream->MemcpyDeviceToHost(host.data(), a, 65);
  absl::Status s = stream->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(s.message(), HasSubstr(Hex(a.address)));
}

TEST_P(StreamCopy, AddressZeroIsNeverValid) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  uint8_t byte = 0;
  stream->MemcpyHostToDevice(DeviceMemory{0, 1}, &byte, 1);
  EXPECT_EQ(stream->Synchronize().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StreamCopy, DestroyingAStreamCompletesItsWork) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(256));
  const std::vector<uint8_t> src = Pattern(256, 77);
  std::vector<uint8_t> dst(256, 0);
  {
    DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
    stream->MemcpyHostToDevice(a, src.data(), 256);
    stream->MemcpyDeviceToHost(dst.data(), a, 256);
  }
  EXPECT_EQ(dst, src);
}

TEST_P(StreamCopy, ConcurrentStreamsCopyCorrectData) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  constexpr int kThreads = 4, kIterations = 100;
  constexpr size_t kBytes = 1000;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<absl::Status> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<std::unique_ptr<Stream>> stream = dev->CreateStream();
      if (!stream.ok()) {
        errors[t] = stream.status();
        return;
      }
      for (int i = 0; i < kIterations; ++i) {
        // Each iteration also exercises the allocator from several threads at once.
        absl::StatusOr<DeviceMemory> a = dev->Allocate(kBytes), b = dev->Allocate(kBytes);
        if (!a.ok() || !b.ok()) {
          errors[t] = a.ok() ? b.status() : a.status();
          return;
        }
        const std::vector<uint8_t> src = Pattern(kBytes, static_cast<uint8_t>(t * 31 + i));
        std::vector<uint8_t> dst(kBytes, 0);
        (*stream)->MemcpyHostToDevice(*a, src.data(), kBytes);
        (*stream)->MemcpyDeviceToDevice(*b, *a, kBytes);
        (*stream)->MemcpyDeviceToHost(dst.data(), *b, kBytes);
        if (absl::Status s = (*stream)->Synchronize(); !s.ok()) {
          errors[t] = s;
          return;
        }
        if (dst != src) ++mismatches[t];
        if (absl::Status s = dev->Free(*a); !s.ok()) errors[t] = s;
        if (absl::Status s = dev->Free(*b); !s.ok()) errors[t] = s;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(errors[t].ok()) << "thread " << t << ": " << errors[t];
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
  }
  EXPECT_EQ(dev->bytes_in_use(), 0u);
}

TEST_P(StreamCopy, ManyThreadsShareOneStreamInOrderPerThread) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  constexpr int kThreads = 4, kIterations = 50;
  std::vector<DeviceMemory> buffers(kThreads);
  for (auto& b : buffers) {
    DRV_ASSIGN_OR_FAIL(b, dev->Allocate(sizeof(uint32_t)));
  }
  // Each thread writes its counter 0..kIterations-1 in order to its own buffer; the stream keeps
  // each thread's copies in enqueue order, so the last value written is the last enqueued.
  std::vector<std::vector<uint32_t>> values(kThreads, std::vector<uint32_t>(kIterations));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        values[t][i] = static_cast<uint32_t>(i);
        stream->MemcpyHostToDevice(buffers[t], &values[t][i], sizeof(uint32_t));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  DRV_ASSERT_OK(stream->Synchronize());
  for (int t = 0; t < kThreads; ++t) {
    uint32_t last = 0;
    DRV_ASSERT_OK(dev->CopyFromDevice(&last, buffers[t], sizeof(last)));
    EXPECT_EQ(last, static_cast<uint32_t>(kIterations - 1));
  }
}

INSTANTIATE_TEST_SUITE_P(Platforms, StreamCopy, ::testing::Values("cpu", "tpu"));

}  // namespace
}  // namespace tpusim::driver::testing
