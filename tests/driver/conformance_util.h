// The backends the conformance suite runs against (cpu; tpu on each engine, `tiny` arch) and the one
// kernel every backend can launch: y = x + 1 over 16 fp32 values (an ISA program on tpu, a host
// kernel on cpu).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "driver_test_util.h"
#include "tpusim/isa/isa.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::driver::testing {

struct Backend {
  std::string platform;  // "cpu" or "tpu"
  std::string engine;    // tpu only
  bool timed() const { return platform == "tpu" && engine != "functional"; }
  bool launches_programs() const { return platform == "tpu"; }
};

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.platform == "cpu" ? "cpu" : absl::StrCat("tpu_", info.param.engine);
}

inline std::vector<Backend> AllBackends() {
  return {{"cpu", ""}, {"tpu", "functional"}, {"tpu", "cycle"}, {"tpu", "rtl"}};
}

// Empty if `backend` can run in this build, else why not (the rtl engine needs a core model).
inline std::string Unavailable(const Backend& backend) {
  if (backend.engine != "rtl") return "";
  if (rtl::CoreModelNames().empty()) return "this build has no RTL core models (Verilator)";
  const absl::Status arch = rtl::CheckRtlArch(TinyArch());
  return arch.ok() ? "" : std::string(arch.message());
}

inline absl::StatusOr<std::unique_ptr<Device>> OpenBackend(const Backend& backend, int ordinal = 0,
                                                           uint64_t memory_limit_bytes = 0) {
  absl::StatusOr<Platform*> p = GetPlatform(backend.platform);
  if (!p.ok()) return p.status();
  DeviceOptions options;
  options.arch = TinyArch();
  if (!backend.engine.empty()) options.engine = backend.engine;
  options.memory_limit_bytes = memory_limit_bytes;
  return (*p)->OpenDevice(ordinal, options);
}

// Enqueues y = x + 1 (16 floats, 64-byte buffers) on `stream`: a launch of `exe` on tpu, a host
// kernel on cpu (where `exe` is null).
inline void EnqueueAddOne(Stream& stream, const Executable* exe, DeviceMemory x, DeviceMemory y,
                          simulator::RunStats* stats) {
  if (exe != nullptr) return stream.Launch(*exe, {x}, {y}, stats);
  stream.LaunchHostKernel(
      [](const std::vector<void*>& buffers) {
        const float* in = static_cast<const float*>(buffers[0]);
        float* out = static_cast<float*>(buffers[1]);
        for (int i = 0; i < 16; ++i) out[i] = in[i] + 1.0f;
        return absl::OkStatus();
      },
      {x, y});
}

}  // namespace tpusim::driver::testing
