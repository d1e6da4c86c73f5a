// tpusim._tpusim: the compiled half of the `tpusim` Python package (docs/python.md). The package's
// __init__.py re-exports everything here; tpusim/backend.py builds the ONNX backend on Session.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.h"
#include "session_binding.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/rtl/rtl_engine.h"
#include "tpusim/simulator/engine.h"

namespace py = pybind11;

// libsystemc.so (linked through the cycle engine) is BIND_NOW and references sc_main: libtpusim_py.so,
// which this extension links, exports the simulator's weak definition (simulator/src/cycle/sc_main.cc),
// so it resolves when Python dlopens the extension.

namespace tpusim::python {
namespace {

const char kSessionDoc[] = R"(A model loaded on a device.

Session(model, device="tpu", engine="functional", arch="tiny", precision="bf16",
        schedule="tokens", allow_cpu_fallback=True, collect_trace=False)

model: path to an .onnx file (str or os.PathLike), the serialized bytes, or an onnx.ModelProto.
device: "tpu" (ops the TPU supports run on the simulated TPU, others on the CPU when
        allow_cpu_fallback) or "cpu" (everything on the host reference kernels).
engine: "functional", "cycle" or "rtl" (see engines()); arch: a preset (see archs()) or a path
        to an ArchConfig .textproto; precision of fp32 matrix ops: "bf16", "high", "highest".
Raises tpusim.UnimplementedError listing every op no device can run.)";

}  // namespace
}  // namespace tpusim::python

PYBIND11_MODULE(_tpusim, m) {
  using namespace tpusim;          // NOLINT: the module body names many of its types
  using namespace tpusim::python;  // NOLINT
  m.doc() = "tpusim: a simulated TPU (compiled core of the tpusim package)";
  RegisterErrors(m);

  m.def(
      "engines",
      [] {
        rtl::RegisterRtlEngine();  // registered when the tpu platform is first used; list it before that
        return simulator::EngineNames();
      },
      "TPU engine names: functional, cycle, rtl.");
  m.def("archs", &isa::PresetNames, "ArchConfig preset names (tiny, tpu-v1, tpu-v4, ...).");
  m.def("devices", [] { return std::vector<std::string>{"tpu", "cpu"}; }, "Session device names.");

  py::class_<PySession>(m, "Session", kSessionDoc)
      .def(py::init([](const py::object& model, std::string device, std::string engine, std::string arch,
                       std::string precision, std::string schedule, bool allow_cpu_fallback,
                       bool collect_trace) {
             PySessionOptions o;
             o.device = std::move(device);
             o.engine = std::move(engine);
             o.arch = std::move(arch);
             o.precision = std::move(precision);
             o.schedule = std::move(schedule);
             o.allow_cpu_fallback = allow_cpu_fallback;
             o.collect_trace = collect_trace;
             return std::make_unique<PySession>(model, o);
           }),
           py::arg("model"), py::arg("device") = "tpu", py::arg("engine") = "functional",
           py::arg("arch") = "tiny", py::arg("precision") = "bf16", py::arg("schedule") = "tokens",
           py::arg("allow_cpu_fallback") = true, py::arg("collect_trace") = false)
      .def("run", &PySession::Run, py::arg("feeds"),
           "Runs the model. feeds: {input name: numpy array} or a list in input order (dtypes float32, "
           "int8, int32, int64, bool, uint8; no implicit casts). Returns {output name: numpy array} in "
           "graph output order. Releases the GIL while the simulator runs.")
      .def_property_readonly("input_names", &PySession::InputNames)
      .def_property_readonly("output_names", &PySession::OutputNames)
      .def_property_readonly("inputs", &PySession::InputInfo,
                             "[{'name', 'dtype', 'shape'}] of the graph inputs (shape None if unknown)")
      .def_property_readonly("outputs", &PySession::OutputInfo)
      .def_property_readonly("placements", &PySession::Placements,
                             "[{'node', 'op_type', 'device', 'reason'}], one per op in node order")
      .def_property_readonly("placement_log", &PySession::PlacementLog)
      .def_property_readonly("device_description", &PySession::DeviceDescription)
      .def_property_readonly("device", [](const PySession& s) { return s.options().device; })
      .def_property_readonly("engine", [](const PySession& s) { return s.options().engine; })
      .def_property_readonly("arch", [](const PySession& s) { return s.options().arch; })
      .def_property_readonly("precision", [](const PySession& s) { return s.options().precision; })
      .def("report", &PySession::Report,
           "The last run's report as a dict (the `tpusim run --report` JSON: cycles, cycle_buckets, "
           "utilization, ops, placements, ...); None before the first run. Timing values are None on "
           "the functional engine.")
      .def("report_text", &PySession::ReportText, "The last run's report as terminal text.")
      .def("trace_json", &PySession::TraceJson,
           "The last run's TPU timeline as Chrome trace-event JSON (timing engine, collect_trace=True).")
      .def("__repr__", [](const PySession& s) {
        return "<tpusim.Session device=" + s.options().device + " engine=" + s.options().engine +
               " arch=" + s.options().arch + ">";
      });
}
