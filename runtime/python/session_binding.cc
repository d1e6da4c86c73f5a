#include "session_binding.h"

#include <map>
#include <utility>

#include <pybind11/stl.h>

#include "absl/strings/str_cat.h"
#include "errors.h"
#include "numpy_tensor.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/trace.h"

namespace py = pybind11;

namespace tpusim::python {
namespace {

// The model argument -> (graph, name for the report).
std::pair<compiler::Graph, std::string> ImportModel(const py::object& model) {
  py::module_ os = py::module_::import("os");
  if (py::isinstance<py::str>(model) || py::isinstance(model, os.attr("PathLike"))) {
    const std::string path = py::str(os.attr("fspath")(model));
    return {ValueOrThrow(compiler::ImportOnnxFile(path)), path};
  }
  py::object bytes;
  if (py::isinstance<py::bytes>(model) || py::isinstance<py::bytearray>(model) ||
      py::isinstance<py::memoryview>(model)) {
    bytes = py::module_::import("builtins").attr("bytes")(model);
  } else if (py::hasattr(model, "SerializeToString")) {
    bytes = model.attr("SerializeToString")();
  } else {
    ThrowStatus(absl::InvalidArgumentError(absl::StrCat(
        "model: expected a file path, bytes or an onnx.ModelProto, got ",
        std::string(py::str(py::type::of(model).attr("__name__"))))));
  }
  const std::string serialized = bytes.cast<std::string>();
  return {ValueOrThrow(compiler::ImportOnnxModel(serialized)), "<bytes>"};
}

}  // namespace

PySession::PySession(const py::object& model, const PySessionOptions& options) : options_(options) {
  auto [graph, model_name] = ImportModel(model);
  runtime::SessionOptions so;
  so.device = options.device;
  so.engine = options.engine;
  so.arch = ValueOrThrow(isa::LoadArch(options.arch));
  so.precision = ValueOrThrow(compiler::ParsePrecision(options.precision));
  so.schedule = ValueOrThrow(compiler::ParseSchedule(options.schedule));
  so.allow_cpu_fallback = options.allow_cpu_fallback;
  so.collect_trace = options.collect_trace;
  info_.model = model_name;
  info_.engine = options.device == "cpu" ? "cpu" : options.engine;
  info_.arch = so.arch.name();
  info_.device = options.device;
  info_.precision = std::string(compiler::PrecisionName(so.precision));
  info_.arch_config = so.arch;
  absl::StatusOr<std::unique_ptr<runtime::Session>> session;
  {
    py::gil_scoped_release release;  // opening a device may start engine threads
    session = runtime::Session::Create(std::move(graph), std::move(so));
  }
  session_ = ValueOrThrow(std::move(session));
}

py::dict PySession::Run(const py::object& feeds) {
  const std::vector<std::string>& inputs = session_->graph().inputs;
  std::map<std::string, compiler::Tensor> tensors;
  if (py::isinstance<py::dict>(feeds)) {
    for (auto [key, value] : py::reinterpret_borrow<py::dict>(feeds)) {
      if (!py::isinstance<py::str>(key)) {
        ThrowStatus(absl::InvalidArgumentError("feeds: dict keys must be input names (str)"));
      }
      const std::string name = py::str(key);
      tensors[name] = ValueOrThrow(TensorFromNumpy(value, absl::StrCat("input '", name, "'")));
    }
  } else if (py::isinstance<py::list>(feeds) || py::isinstance<py::tuple>(feeds)) {
    const py::sequence seq = py::reinterpret_borrow<py::sequence>(feeds);
    if (seq.size() != inputs.size()) {
      ThrowStatus(absl::InvalidArgumentError(absl::StrCat(
          "feeds: ", seq.size(), " arrays given for a graph with ", inputs.size(), " inputs")));
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      tensors[inputs[i]] = ValueOrThrow(TensorFromNumpy(seq[i], absl::StrCat("input '", inputs[i], "'")));
    }
  } else {
    ThrowStatus(absl::InvalidArgumentError("feeds: expected a dict {name: array} or a list of arrays"));
  }
  runtime::RunReport report;
  absl::StatusOr<std::map<std::string, compiler::Tensor>> outputs;
  {
    py::gil_scoped_release release;
    outputs = session_->Run(tensors, &report);
  }
  ThrowIfError(outputs.status());
  last_report_ = std::move(report);
  py::dict result;
  for (const std::string& name : session_->graph().outputs) {
    auto it = outputs->find(name);
    if (it == outputs->end()) {
      ThrowStatus(absl::InternalError(absl::StrCat("session returned no value for output '", name, "'")));
    }
    result[py::str(name)] = NumpyFromTensor(it->second);
  }
  return result;
}

py::list PySession::InputNames() const { return py::cast(session_->graph().inputs); }
py::list PySession::OutputNames() const { return py::cast(session_->graph().outputs); }
py::list PySession::InputInfo() const { return ValueInfo(session_->graph().inputs); }
py::list PySession::OutputInfo() const { return ValueInfo(session_->graph().outputs); }

py::list PySession::ValueInfo(const std::vector<std::string>& names) const {
  py::list list;
  for (const std::string& name : names) {
    const compiler::Value* v = session_->graph().FindValue(name);
    py::dict d;
    d["name"] = name;
    d["dtype"] = v ? py::object(NumpyDtype(v->dtype)) : py::object(py::none());
    d["shape"] = (v && v->shape) ? py::object(py::tuple(py::cast(*v->shape))) : py::object(py::none());
    list.append(d);
  }
  return list;
}

py::list PySession::Placements() const {
  py::list list;
  for (const runtime::Placement& p : session_->placements()) {
    py::dict d;
    d["node"] = p.node;
    d["op_type"] = p.op_type;
    d["device"] = p.device;
    d["reason"] = p.reason;
    list.append(d);
  }
  return list;
}

std::string PySession::PlacementLog() const { return runtime::FormatPlacementLog(session_->placements()); }

std::string PySession::DeviceDescription() const {
  const driver::Device* device = session_->tpu_device();
  return device ? device->description() : "cpu";
}

py::object PySession::Report() const {
  if (!last_report_) return py::none();
  const std::string json = runtime::ReportToJson(*last_report_, session_->placements(), info_);
  return py::module_::import("json").attr("loads")(json);
}

std::string PySession::ReportText() const {
  if (!last_report_) return "";
  return runtime::ReportToText(*last_report_, session_->placements(), info_);
}

std::string PySession::TraceJson() const {
  if (!last_report_) ThrowStatus(absl::FailedPreconditionError("trace_json: no run yet"));
  if (!options_.collect_trace || options_.device == "cpu" || options_.engine == "functional") {
    ThrowStatus(absl::FailedPreconditionError(
        "trace_json: needs a timing engine on the tpu device (engine 'cycle' or 'rtl') and collect_trace=True"));
  }
  const std::string process = absl::StrCat("TPU:0 ", info_.arch, " (", info_.engine, " engine)");
  return runtime::ChromeTraceJson(last_report_->launches, info_.arch_config, process);
}

}  // namespace tpusim::python
