"""tpusim: run ONNX models on a simulated TPU from Python (docs/python.md).

    import numpy as np, tpusim
    s = tpusim.Session("model.onnx", device="tpu", engine="cycle", arch="tiny")
    out = s.run({"x": np.ones((2, 3), np.float32)})   # {output name: numpy array}
    s.report()["cycles"]                              # the last run's report, as a dict

Everything here comes from the compiled extension tpusim._tpusim; tpusim.backend is the
onnx.backend.base.Backend implementation.
"""

from ._tpusim import (  # noqa: F401  (re-exported)
    Error,
    InvalidArgumentError,
    NotFoundError,
    Session,
    UnimplementedError,
    archs,
    devices,
    engines,
)

__all__ = [
    "Error", "InvalidArgumentError", "NotFoundError", "UnimplementedError",
    "Session", "archs", "devices", "engines", "run",
]


def run(model, feeds, **options):
    """One-shot: opens a Session on `model` with `options` (Session's keywords), runs `feeds`,
    and returns (outputs dict, report dict)."""
    session = Session(model, **options)
    outputs = session.run(feeds)
    return outputs, session.report()
