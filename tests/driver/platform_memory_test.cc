// Platforms, device opening and the device-memory allocator.
#include "absl/strings/str_cat.h"
#include "driver_test_util.h"
#include "gmock/gmock.h"

namespace tpusim::driver::testing {
namespace {

using ::testing::HasSubstr;

TEST(Platform, LookupByNameListsBothPlatforms) {
  EXPECT_THAT(PlatformNames(), ::testing::ElementsAre("cpu", "tpu"));
  DRV_ASSIGN_OR_FAIL(Platform * cpu, GetPlatform("cpu"));
  DRV_ASSIGN_OR_FAIL(Platform * tpu, GetPlatform("tpu"));
  EXPECT_EQ(cpu->name(), "cpu");
  EXPECT_EQ(tpu->name(), "tpu");
  EXPECT_EQ(cpu->device_count(), 1);
  EXPECT_EQ(tpu->device_count(), 1);
}

TEST(Platform, UnknownNameIsNotFoundListingNames) {
  absl::StatusOr<Platform*> p = GetPlatform("gpu");
  ASSERT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(p.status().message(), HasSubstr("gpu"));
  EXPECT_THAT(p.status().message(), HasSubstr("cpu"));
  EXPECT_THAT(p.status().message(), HasSubstr("tpu"));
}

TEST(Platform, DevicesHaveTensorFlowStyleNames) {
  DRV_ASSIGN_OR_FAIL(auto cpu, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(auto tpu, Open("tpu"));
  EXPECT_EQ(cpu->name(), "/job:localhost/replica:0/task:0/device:CPU:0");
  EXPECT_EQ(tpu->name(), "/job:localhost/replica:0/task:0/device:TPU:0");
  EXPECT_EQ(cpu->platform(), "cpu");
  EXPECT_EQ(tpu->platform(), "tpu");
  EXPECT_EQ(tpu->ordinal(), 0);
  EXPECT_THAT(tpu->description(), HasSubstr("tiny"));
  EXPECT_THAT(tpu->description(), HasSubstr("8x8"));
  EXPECT_THAT(tpu->description(), HasSubstr("functional"));
}

TEST(Platform, OrdinalOutOfRangeIsRejected) {
  DRV_ASSIGN_OR_FAIL(Platform * tpu, GetPlatform("tpu"));
  DeviceOptions options;
  options.arch = TinyArch();
  const int count = tpu->device_count();  // 1 unless TPUSIM_TPU_DEVICES or SetDeviceCount say more
  absl::StatusOr<std::unique_ptr<Device>> dev = tpu->OpenDevice(count, options);
  EXPECT_EQ(dev.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dev.status().message(), HasSubstr(absl::StrCat("ordinal ", count)));
}

TEST(Platform, TpuOpenWithUnknownEngineIsNotFoundListingEngines) {
  DRV_ASSIGN_OR_FAIL(Platform * tpu, GetPlatform("tpu"));
  DeviceOptions options;
  options.arch = TinyArch();
  options.engine = "warp-drive";
  absl::StatusOr<std::unique_ptr<Device>> dev = tpu->OpenDevice(0, options);
  ASSERT_EQ(dev.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dev.status().message(), HasSubstr("warp-drive"));
  EXPECT_THAT(dev.status().message(), HasSubstr("functional"));
}

TEST(Platform, TpuOpenWithInvalidArchReturnsTheValidationError) {
  isa::ArchConfig arch = TinyArch();
  arch.set_array_rows(0);
  absl::StatusOr<std::unique_ptr<Device>> dev = Open("tpu", arch);
  ASSERT_FALSE(dev.ok());
  EXPECT_THAT(dev.status().message(), HasSubstr("array_rows"));
}

class Memory : public ::testing::TestWithParam<std::string> {};

TEST_P(Memory, AllocationsAreNonzeroAlignedAndDisjoint) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  EXPECT_EQ(dev->bytes_in_use(), 0u);
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(100));
  DRV_ASSIGN_OR_FAIL(DeviceMemory b, dev->Allocate(300));
  EXPECT_NE(a.address, 0u);
  EXPECT_EQ(a.size, 100u);
  EXPECT_EQ(a.address % 256, 0u);
  EXPECT_EQ(b.address % 256, 0u);
  // 100 bytes reserve one 256-byte granule, 300 bytes two: a and b may not overlap.
  EXPECT_TRUE(b.address >= a.address + 256 || a.address >= b.address + 512);
  EXPECT_EQ(dev->bytes_in_use(), 256u + 512u);
  DRV_ASSERT_OK(dev->Free(a));
  DRV_ASSERT_OK(dev->Free(b));
  EXPECT_EQ(dev->bytes_in_use(), 0u);
}

TEST_P(Memory, FreedSpaceIsReusedFirstFitAndCoalesced) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(DeviceMemory x, dev->Allocate(256));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(256));
  DRV_ASSIGN_OR_FAIL(DeviceMemory z, dev->Allocate(256));
  DRV_ASSERT_OK(dev->Free(x));
  // First fit: the hole x left is the lowest block that fits.
  DRV_ASSIGN_OR_FAIL(DeviceMemory reuse, dev->Allocate(200));
  EXPECT_EQ(reuse.address, x.address);
  DRV_ASSERT_OK(dev->Free(reuse));
  DRV_ASSERT_OK(dev->Free(y));
  // x's and y's blocks merged into one 512-byte hole below z.
  DRV_ASSIGN_OR_FAIL(DeviceMemory w, dev->Allocate(512));
  EXPECT_EQ(w.address, x.address);
  EXPECT_LT(w.address, z.address);
  DRV_ASSERT_OK(dev->Free(w));
  DRV_ASSERT_OK(dev->Free(z));
}

TEST_P(Memory, FreeOfAnAddressThatIsNotALiveAllocationFails) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(1024));
  absl::Status interior = dev->Free(DeviceMemory{a.address + 256, 256});
  EXPECT_EQ(interior.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(interior.message(), HasSubstr(Hex(a.address + 256)));
  DRV_ASSERT_OK(dev->Free(a));
  absl::Status twice = dev->Free(a);
  EXPECT_EQ(twice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(twice.message(), HasSubstr(Hex(a.address)));
}

TEST_P(Memory, ZeroByteAllocationIsNull) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open(GetParam()));
  DRV_ASSIGN_OR_FAIL(DeviceMemory null, dev->Allocate(0));
  EXPECT_TRUE(null.is_null());
  DRV_ASSERT_OK(dev->Free(null));
  EXPECT_EQ(dev->bytes_in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Platforms, Memory, ::testing::Values("cpu", "tpu"));

TEST(TpuMemory, AllocationBeyondDramIsResourceExhaustedNamingRequestAndFree) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));  // tiny: 256 MiB of DRAM
  absl::StatusOr<DeviceMemory> big = dev->Allocate(300ull << 20);
  ASSERT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(big.status().message(), HasSubstr("314572800"));  // 300 * 2^20, the request
  EXPECT_THAT(big.status().message(), HasSubstr("free"));

  // After 200 MiB are taken, fewer than 56 MiB remain, so 100 MiB no longer fit.
  DRV_ASSIGN_OR_FAIL(DeviceMemory most, dev->Allocate(200ull << 20));
  absl::StatusOr<DeviceMemory> rest = dev->Allocate(100ull << 20);
  EXPECT_EQ(rest.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(dev->bytes_in_use(), 200ull << 20);
  DRV_ASSERT_OK(dev->Free(most));
  DRV_ASSIGN_OR_FAIL(DeviceMemory again, dev->Allocate(100ull << 20));
  DRV_ASSERT_OK(dev->Free(again));
}

TEST(CpuMemory, AllocationBeyondTheAddressSpaceIsResourceExhausted) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  absl::StatusOr<DeviceMemory> huge = dev->Allocate(1ull << 50);
  ASSERT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(huge.status().message(), HasSubstr(std::to_string(1ull << 50)));
}

}  // namespace
}  // namespace tpusim::driver::testing
