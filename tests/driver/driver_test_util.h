// Helpers shared by the driver tests: opening devices on the `tiny` preset and status assertions.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tpusim/driver/driver.h"
#include "tpusim/isa/arch_config.h"

#define DRV_CONCAT_INNER_(a, b) a##b
#define DRV_CONCAT_(a, b) DRV_CONCAT_INNER_(a, b)

// ASSERT that an absl::Status is OK, printing it otherwise.
#define DRV_ASSERT_OK(expr)                       \
  do {                                            \
    const ::absl::Status drv_status_ = (expr);    \
    ASSERT_TRUE(drv_status_.ok()) << drv_status_; \
  } while (0)

// `lhs = value of an absl::StatusOr expression`, failing the test (and returning) on error.
#define DRV_ASSIGN_OR_FAIL(lhs, expr) DRV_ASSIGN_OR_FAIL_IMPL_(DRV_CONCAT_(drv_so_, __LINE__), lhs, expr)
#define DRV_ASSIGN_OR_FAIL_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  ASSERT_TRUE(tmp.ok()) << tmp.status();         \
  lhs = std::move(tmp).value()

namespace tpusim::driver::testing {

inline isa::ArchConfig TinyArch() {
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset("tiny");
  EXPECT_TRUE(arch.ok()) << arch.status();
  return arch.ok() ? *arch : isa::ArchConfig();
}

// Opens ordinal 0 of "cpu" or "tpu" (tiny arch, functional engine).
inline absl::StatusOr<std::unique_ptr<Device>> Open(const std::string& platform,
                                                    const isa::ArchConfig& arch = TinyArch()) {
  absl::StatusOr<Platform*> p = GetPlatform(platform);
  if (!p.ok()) return p.status();
  DeviceOptions options;
  options.arch = arch;
  return (*p)->OpenDevice(0, options);
}

inline std::string Hex(uint64_t v) { return absl::StrFormat("0x%x", v); }

}  // namespace tpusim::driver::testing
