// tpusim_torch._C: the extension module behind the tpusim_torch package (tpusim_torch/__init__.py) that loads the tpusim PyTorch device (docs/pytorch.md). Importing it
// registers the PrivateUse1 kernels, allocator and guard (static registrations of this shared object);
// its functions configure the devices and read their counters. No torch header is included here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "tpu_devices.h"

namespace py = pybind11;

// sc_main, which libsystemc.so references, comes from libtpusim_py.so (the simulator's weak definition).

namespace {

using namespace tpusim::torch_device;  // NOLINT

void Raise(const absl::Status& s) {
  if (s.ok()) return;
  const std::string msg(s.message());
  switch (s.code()) {
    case absl::StatusCode::kOutOfRange: throw py::index_error(msg);
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound: throw py::value_error(msg);
    default: throw std::runtime_error(msg);
  }
}

py::dict StatsDict(int device) {
  absl::StatusOr<DeviceStats> s = GetDeviceStats(device);
  Raise(s.status());
  py::dict d;
  d["open"] = s->open;
  d["description"] = s->description;
  d["launches"] = s->launches;
  d["programs_compiled"] = s->programs_compiled;
  d["ops"] = s->ops;
  d["bytes_in_use"] = s->memory.bytes_in_use;
  d["peak_bytes_in_use"] = s->memory.peak_bytes_in_use;
  d["num_allocs"] = s->memory.num_allocs;
  d["total_allocs"] = s->memory.total_allocs;
  return d;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "The tpusim PyTorch device: torch.device('privateuseone:N') is tpusim TPU N (docs/pytorch.md).";
  m.def("device_count", &DeviceCount, "Number of tpusim devices torch may use (TPUSIM_TPU_DEVICES).");
  m.def("set_device_count", [](int n) { Raise(SetDeviceCount(n)); }, py::arg("count"),
        "Sets the device count (1..64) before the first device is used.");
  m.def("configure",
        [](std::optional<std::string> engine, std::optional<std::string> arch, std::optional<std::string> precision) {
          Settings s = CurrentSettings();
          if (engine) s.engine = *engine;
          if (arch) s.arch = *arch;
          if (precision) s.precision = *precision;
          Raise(Configure(s));
        },
        py::arg("engine") = py::none(), py::arg("arch") = py::none(), py::arg("precision") = py::none(),
        "Engine ('functional', 'cycle', 'rtl'), arch (preset or .textproto) and matrix precision ('bf16', "
        "'high', 'highest'); only before the first device is used.");
  m.def("settings", [] {
    const Settings s = CurrentSettings();
    py::dict d;
    d["engine"] = s.engine;
    d["arch"] = s.arch;
    d["precision"] = s.precision;
    return d;
  });
  m.def("device_stats", &StatsDict, py::arg("index"),
        "Counters of privateuseone:index: TPU launches, launches per op, programs compiled, memory.");
  m.def("fallback_counts", &FallbackCounts, "Ops that ran on the CPU through the fallback: {op name: count}.");
  m.def("reset_counters", &ResetCounters, "Clears launch, per-op and fallback counters.");
}
