// The Python-facing session: a runtime::Session plus what the report needs (options, model name) and
// the last Run's report. Not thread-safe from Python's side beyond what Session guarantees: run()
// releases the GIL while the simulator runs, and Session serializes concurrent runs.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <pybind11/pybind11.h>

#include "tpusim/runtime/report.h"
#include "tpusim/runtime/session.h"

namespace tpusim::python {

struct PySessionOptions {
  std::string device = "tpu";         // "tpu" or "cpu"
  std::string engine = "functional";  // "functional", "cycle" or "rtl"
  std::string arch = "tiny";          // a preset name or an ArchConfig .textproto path
  std::string precision = "bf16";     // "bf16", "high" or "highest"
  std::string schedule = "tokens";    // "tokens" or "serial"
  bool allow_cpu_fallback = true;
  bool collect_trace = false;         // keep each launch's timeline (for trace_json())
};

class PySession {
 public:
  // `model`: a str / os.PathLike (an .onnx file), bytes-like (a serialized ModelProto), or an object
  // with SerializeToString() (an onnx.ModelProto). Raises tpusim.Error subclasses on failure.
  PySession(const pybind11::object& model, const PySessionOptions& options);

  // `feeds`: a dict {input name: array} or a list/tuple in input order. Returns {output name: array}
  // in graph output order.
  pybind11::dict Run(const pybind11::object& feeds);

  pybind11::list InputNames() const;
  pybind11::list OutputNames() const;
  // [{"name", "dtype", "shape"}] for graph inputs / outputs; shape None when unknown.
  pybind11::list InputInfo() const;
  pybind11::list OutputInfo() const;
  pybind11::list Placements() const;        // [{"node", "op_type", "device", "reason"}]
  std::string PlacementLog() const;         // TensorFlow-style, one line per op
  std::string DeviceDescription() const;    // the tpu device's description; "cpu" on the cpu device
  // The last run's report (runtime/report.h JSON keys) as a dict; None before the first run.
  pybind11::object Report() const;
  std::string ReportText() const;           // "" before the first run
  std::string TraceJson() const;            // Chrome trace of the last run (needs collect_trace)
  const PySessionOptions& options() const { return options_; }

 private:
  pybind11::list ValueInfo(const std::vector<std::string>& names) const;

  PySessionOptions options_;
  runtime::ReportInfo info_;
  std::unique_ptr<runtime::Session> session_;
  std::optional<runtime::RunReport> last_report_;
};

}  // namespace tpusim::python
