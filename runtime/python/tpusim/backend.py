"""An onnx.backend.base.Backend on tpusim, so that ONNX's own backend test runner (and any code
written against the ONNX backend API) can run models on the simulated TPU.

    import tpusim.backend as backend
    rep = backend.prepare(model)              # model: onnx.ModelProto
    outputs = rep.run([x, y])                 # a tuple (namedtuple-like, also indexable by name)
    backend.run_node(node, [x, y])            # one op

Devices. ONNX's DeviceType knows only CPU and CUDA, and its test runner asks for "CPU": here "CPU"
means the host with the simulated TPU attached, i.e. a tpusim session on the backend's configured
device (default "tpu": each op on the TPU where the TPU supports it, else on the CPU reference
kernels). "TPU" (or "TPU:0") names the same thing explicitly. CUDA is not supported.

Options (keywords of prepare/run_model/run_node, or defaults via TpusimBackend.configured(...)):
tpusim_device ("tpu" | "cpu"), engine ("functional" | "cycle" | "rtl"), arch (preset or
.textproto path), precision ("bf16" | "high" | "highest"; default "highest", which the ONNX test
tolerances need), schedule, allow_cpu_fallback (default True).
"""

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import helper, mapping
from onnx.backend.base import Backend, BackendRep, namedtupledict

from . import _tpusim

_DEFAULTS: Dict[str, Any] = {
    "tpusim_device": "tpu",
    "engine": "functional",
    "arch": "tiny",
    "precision": "highest",
    "schedule": "tokens",
    "allow_cpu_fallback": True,
}


def _device_kind(device: str) -> str:
    """'CPU', 'TPU', 'TPU:0', 'tpu' -> 'CPU' / 'TPU'; anything else -> ''."""
    kind = str(device).split(":")[0].upper()
    return kind if kind in ("CPU", "TPU") else ""


class TpusimRep(BackendRep):
    """A prepared model: one tpusim.Session, reused by every run."""

    def __init__(self, session: "_tpusim.Session") -> None:
        self.session = session

    def run(self, inputs: Any, **kwargs: Any) -> Tuple[Any, ...]:
        """inputs: a list/tuple in graph input order, a dict {name: array}, or one array (a graph
        with one input). Returns the outputs in graph output order (also indexable by name)."""
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        elif not isinstance(inputs, dict):
            inputs = list(inputs)
        outputs = self.session.run(inputs)
        names = list(outputs.keys())
        return namedtupledict("Outputs", names)(*outputs.values())

    def report(self) -> Optional[Dict[str, Any]]:
        """The last run's tpusim report (see tpusim.Session.report)."""
        return self.session.report()


class TpusimBackend(Backend):
    """onnx.backend.base.Backend running models through tpusim sessions (see the module docstring)."""

    defaults: Dict[str, Any] = dict(_DEFAULTS)

    @classmethod
    def configured(cls, **defaults: Any) -> type:
        """A subclass whose default options are updated with `defaults` (e.g. engine="cycle")."""
        unknown = set(defaults) - set(_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown tpusim backend option(s): {sorted(unknown)}")
        return type(cls.__name__, (cls,), {"defaults": {**cls.defaults, **defaults}})

    @classmethod
    def _options(cls, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        options = dict(cls.defaults)
        for key, value in kwargs.items():
            if key in options:
                options[key] = value
        return options

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return _device_kind(device) != ""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> TpusimRep:
        if not cls.supports_device(device):
            raise ValueError(f"tpusim backend: unsupported device '{device}' (use 'CPU' or 'TPU')")
        super().prepare(model, device, **kwargs)  # onnx.checker
        return cls._prepare_unchecked(model, kwargs)

    @classmethod
    def _prepare_unchecked(cls, model: onnx.ModelProto, kwargs: Dict[str, Any]) -> TpusimRep:
        o = cls._options(kwargs)
        session = _tpusim.Session(model.SerializeToString(), device=o["tpusim_device"], engine=o["engine"],
                                  arch=o["arch"], precision=o["precision"], schedule=o["schedule"],
                                  allow_cpu_fallback=o["allow_cpu_fallback"])
        return TpusimRep(session)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> Tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Optional[Sequence[Tuple[np.dtype, Tuple[int, ...]]]] = None,
                 **kwargs: Any) -> Tuple[Any, ...]:
        """Runs one node: wraps it in a graph whose inputs are typed from `inputs` (a list in
        node.input order, or a dict by name) and whose outputs are typed from `outputs_info`."""
        super().run_node(node, inputs, device=device, outputs_info=outputs_info, **kwargs)
        if isinstance(inputs, dict):
            feeds = {name: np.asarray(inputs[name]) for name in node.input if name}
        else:
            present = [name for name in node.input if name]
            arrays = list(inputs)
            if len(arrays) != len(present):
                raise ValueError(f"run_node: {len(arrays)} inputs given for {len(present)} node inputs")
            feeds = {name: np.asarray(a) for name, a in zip(present, arrays)}
        graph_inputs = [
            helper.make_tensor_value_info(name, mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
            for name, a in feeds.items()
        ]
        if outputs_info is not None:
            graph_outputs = [
                helper.make_tensor_value_info(name, mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dtype)], shape)
                for name, (dtype, shape) in zip(node.output, outputs_info)
            ]
        else:
            graph_outputs = [helper.make_empty_tensor_value_info(name) for name in node.output if name]
        graph = helper.make_graph([node], "tpusim_run_node", graph_inputs, graph_outputs)
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        if outputs_info is None:
            # Output types from ONNX shape inference; where it cannot tell, the graph keeps untyped
            # outputs (tpusim infers them itself), which onnx.checker would refuse: skip it then.
            try:
                inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
            except Exception:  # noqa: BLE001  (inference errors: tpusim reports the real problem)
                inferred = {}
            typed = [inferred.get(o.name) for o in graph_outputs]
            if all(t is not None for t in typed):
                del model.graph.output[:]
                model.graph.output.extend(typed)
            else:
                if not cls.supports_device(device):
                    raise ValueError(f"tpusim backend: unsupported device '{device}' (use 'CPU' or 'TPU')")
                return cls._prepare_unchecked(model, kwargs).run(feeds)
        return cls.run_model(model, feeds, device, **kwargs)


# The module-level API the ONNX backend convention expects (onnx_backend_test imports these).
prepare = TpusimBackend.prepare
run_model = TpusimBackend.run_model
run_node = TpusimBackend.run_node
supports_device = TpusimBackend.supports_device
