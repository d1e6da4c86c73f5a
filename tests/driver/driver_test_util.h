// Helpers shared by the driver tests: opening devices on the `tiny` preset and status assertions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tpusim/driver/driver.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/program.h"

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

// A binding of a hand-written program: an f32 tensor of `shape` at `offset` in the frame.
struct FrameBinding {
  std::string name;
  uint64_t offset = 0;
  std::vector<int64_t> shape;
};

// A program from assembly text (HALT included) over a frame of `frame_bytes`, with f32 bindings,
// precision bf16 and every instruction attributed to one op `op_name`.
inline absl::StatusOr<isa::Program> AssembledProgram(const std::string& text, const isa::ArchConfig& arch,
                                                     const std::vector<FrameBinding>& inputs,
                                                     const std::vector<FrameBinding>& outputs,
                                                     uint64_t frame_bytes, const std::string& op_name) {
  absl::StatusOr<std::vector<isa::Instruction>> code = isa::AssembleProgram(text);
  if (!code.ok()) return code.status();
  absl::StatusOr<std::string> bytes = isa::EncodeProgram(*code);
  if (!bytes.ok()) return bytes.status();
  isa::Program p;
  p.set_isa_version(isa::kIsaVersion);
  *p.mutable_arch() = arch;
  p.set_code(*bytes);
  const auto bind = [](isa::Binding* b, const FrameBinding& f) {
    b->set_name(f.name);
    b->set_dram_offset(f.offset);
    for (int64_t d : f.shape) b->add_shape(d);
    b->set_dtype(isa::FLOAT32);
  };
  for (const FrameBinding& f : inputs) bind(p.add_inputs(), f);
  for (const FrameBinding& f : outputs) bind(p.add_outputs(), f);
  p.set_frame_bytes(frame_bytes);
  p.set_precision("bf16");
  p.add_op_names(op_name);
  for (size_t i = 0; i < code->size(); ++i) p.add_inst_op(0);
  return p;
}

// y = x + 1 for x, y = [2, 8] f32 over a 128-byte frame (x at 0, y at 64): LOAD, VECTOR add_imm,
// STORE, with SYNCs between the queues (the timing engines run queues concurrently).
inline absl::StatusOr<isa::Program> AddOneProgram(const isa::ArchConfig& arch = TinyArch()) {
  return AssembledProgram(
      "LOAD dtype=f32 dram_addr=0x0 ub_row=0 rows=2 lanes=8 row_stride=8 lane_stride=1\n"
      "SYNC\n"
      "VECTOR op=add_imm dst_row=0 a_row=0 b_row=0 rows=2 imm=1\n"
      "SYNC\n"
      "STORE dtype=f32 dram_addr=0x40 ub_row=0 rows=2 lanes=8 row_stride=8 lane_stride=1\n"
      "HALT\n",
      arch, {{"x", 0, {2, 8}}}, {{"y", 64, {2, 8}}}, 128, "add_one");
}

}  // namespace tpusim::driver::testing
