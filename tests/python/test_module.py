"""Unit tests of the tpusim Python module: numpy in/out, sessions on each device, reports, errors.

Run by ctest (runtime/python/CMakeLists.txt) as /usr/bin/python3 tests/python/test_module.py with
PYTHONPATH=<build>/runtime/python. Expected values come from numpy reference arithmetic.
"""

import os
import tempfile
import unittest

import numpy as np
from onnx import TensorProto, helper

import tpusim


def mlp_model(argmax: bool = False) -> bytes:
    """y = relu(x @ w + b) with x: [2, 3] input, w: [3, 4], b: [4] initializers (opset 13);
    with argmax, also idx = ArgMax(y, axis=1) (an op the TPU does not run)."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 8 - 0.5
    b = np.array([0.25, -0.5, 0.0, 1.0], np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "b"], ["xwb"], name="add"),
        helper.make_node("Relu", ["xwb"], ["y"], name="relu"),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])]
    if argmax:
        nodes.append(helper.make_node("ArgMax", ["y"], ["idx"], axis=1, keepdims=0, name="argmax"))
        outputs.append(helper.make_tensor_value_info("idx", TensorProto.INT64, [2]))
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])], outputs,
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, [3, 4], w.flatten()),
                     helper.make_tensor("b", TensorProto.FLOAT, [4], b)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def mlp_reference(x: np.ndarray) -> np.ndarray:
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 8 - 0.5
    b = np.array([0.25, -0.5, 0.0, 1.0], np.float32)
    return np.maximum(x @ w + b, 0)


X = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], np.float32)


class ModuleTest(unittest.TestCase):
    def test_lists(self):
        self.assertLessEqual({"functional", "cycle", "rtl"}, set(tpusim.engines()))
        self.assertIn("tiny", tpusim.archs())
        self.assertIn("tpu-v4", tpusim.archs())
        self.assertEqual(tpusim.devices(), ["tpu", "cpu"])

    def test_run_on_tpu_matches_numpy(self):
        s = tpusim.Session(mlp_model(), device="tpu", engine="functional", arch="tiny", precision="highest")
        self.assertEqual(s.input_names, ["x"])
        self.assertEqual(s.output_names, ["y"])
        self.assertEqual(s.inputs[0]["shape"], (2, 3))
        self.assertEqual(s.inputs[0]["dtype"], np.float32)
        out = s.run({"x": X})
        self.assertEqual(list(out), ["y"])
        self.assertEqual(out["y"].dtype, np.float32)
        self.assertEqual(out["y"].shape, (2, 4))
        np.testing.assert_allclose(out["y"], mlp_reference(X), rtol=1e-5, atol=1e-6)
        self.assertTrue(all(p["device"].endswith("device:TPU:0") for p in s.placements))
        # A list feed is positional; a non-contiguous view is accepted.
        xt = np.ascontiguousarray(X.T).T
        np.testing.assert_allclose(s.run([xt])["y"], mlp_reference(X), rtol=1e-5, atol=1e-6)

    def test_model_from_path_and_modelproto(self):
        import onnx
        model = mlp_model()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "mlp.onnx")
            with open(path, "wb") as f:
                f.write(model)
            s = tpusim.Session(path, device="cpu")
            np.testing.assert_allclose(s.run({"x": X})["y"], mlp_reference(X), rtol=1e-6)
            self.assertEqual(s.device_description, "cpu")
        s = tpusim.Session(onnx.load_from_string(model), device="cpu")
        np.testing.assert_allclose(s.run([X])["y"], mlp_reference(X), rtol=1e-6)

    def test_cpu_fallback_and_placement(self):
        s = tpusim.Session(mlp_model(argmax=True), device="tpu", precision="highest")
        by_node = {p["node"]: p for p in s.placements}
        self.assertTrue(by_node["mm"]["device"].endswith("device:TPU:0"))
        self.assertTrue(by_node["argmax"]["device"].endswith("device:CPU:0"))
        self.assertIn("ArgMax", by_node["argmax"]["reason"])
        self.assertIn("argmax: /job:localhost/replica:0/task:0/device:CPU:0", s.placement_log)
        out = s.run({"x": X})
        self.assertEqual(out["idx"].dtype, np.int64)
        np.testing.assert_array_equal(out["idx"], np.argmax(mlp_reference(X), axis=1))

    def test_report_on_cycle_engine(self):
        s = tpusim.Session(mlp_model(), engine="cycle", arch="tiny", precision="highest")
        self.assertIsNone(s.report())
        s.run({"x": X})
        r = s.report()
        self.assertEqual(r["engine"], "cycle")
        self.assertEqual(r["arch"], "tiny")
        self.assertGreater(r["cycles"], 0)
        self.assertEqual(r["tpu_launches"], 1)
        # docs/timing.md: the cycle buckets partition the run's cycles.
        self.assertEqual(sum(b["cycles"] for b in r["cycle_buckets"].values()), r["cycles"])
        self.assertEqual([p["node"] for p in r["placements"]], ["mm", "add", "relu"])
        self.assertIn("cycles", s.report_text())

    def test_functional_engine_report_has_no_timing(self):
        s = tpusim.Session(mlp_model())
        s.run({"x": X})
        r = s.report()
        self.assertIsNone(r["cycles"])
        self.assertGreater(r["instructions"]["total"], 0)
        with self.assertRaises(tpusim.Error):
            s.trace_json()

    def test_integer_dtypes_round_trip(self):
        graph = helper.make_graph(
            [helper.make_node("Add", ["a", "b"], ["c"])], "add_i64",
            [helper.make_tensor_value_info("a", TensorProto.INT64, [3]),
             helper.make_tensor_value_info("b", TensorProto.INT64, [3])],
            [helper.make_tensor_value_info("c", TensorProto.INT64, [3])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        s = tpusim.Session(model.SerializeToString(), device="cpu")
        a = np.array([1, -2, 1 << 40], np.int64)
        out = s.run({"a": a, "b": np.array([5, 6, 7], np.int64)})["c"]
        self.assertEqual(out.dtype, np.int64)
        np.testing.assert_array_equal(out, [6, 4, (1 << 40) + 7])

    def test_errors_carry_the_cpp_message(self):
        s = tpusim.Session(mlp_model())
        with self.assertRaises(tpusim.InvalidArgumentError) as cm:
            s.run({"x": X.astype(np.float64)})
        self.assertIn("input 'x'", str(cm.exception))
        self.assertIn("float64", str(cm.exception))
        self.assertEqual(cm.exception.code, "INVALID_ARGUMENT")
        self.assertIsInstance(cm.exception, ValueError)
        with self.assertRaises(tpusim.InvalidArgumentError) as cm:
            s.run({})  # missing feed
        self.assertIn("x", str(cm.exception))
        with self.assertRaises(tpusim.InvalidArgumentError):
            s.run({"x": np.zeros((5, 3), np.float32)})  # wrong shape
        with self.assertRaises(tpusim.InvalidArgumentError):
            s.run([X, X])  # two arrays for one input
        with self.assertRaises(tpusim.InvalidArgumentError):
            tpusim.Session(b"this is not a protobuf")
        with self.assertRaises(tpusim.Error) as cm:
            tpusim.Session("/nonexistent/model.onnx")
        self.assertIn("/nonexistent/model.onnx", str(cm.exception))
        with self.assertRaises(tpusim.Error) as cm:
            tpusim.Session(mlp_model(), arch="no-such-arch")
        self.assertIn("no-such-arch", str(cm.exception))
        with self.assertRaises(tpusim.Error) as cm:
            tpusim.Session(mlp_model(), engine="warp")
        self.assertIn("warp", str(cm.exception))
        with self.assertRaises(tpusim.InvalidArgumentError):
            tpusim.Session(mlp_model(), device="gpu")
        with self.assertRaises(tpusim.InvalidArgumentError):
            tpusim.Session(42)

    def test_unsupported_ops_without_fallback(self):
        with self.assertRaises(tpusim.UnimplementedError) as cm:
            tpusim.Session(mlp_model(argmax=True), allow_cpu_fallback=False)
        self.assertIn("unsupported ops: ArgMax (node 'argmax')", str(cm.exception))
        self.assertIsInstance(cm.exception, NotImplementedError)


if __name__ == "__main__":
    unittest.main()
