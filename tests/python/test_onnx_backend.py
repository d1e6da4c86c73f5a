"""ONNX's own backend test runner (Debian python3-onnx 1.12, onnx.backend.test.BackendTest) against
tpusim.backend: the node, simple and PyTorch model tests from ONNX's test data, run on the tpu device
(tiny arch, functional engine, precision highest) with CPU fallback allowed, so every op the TPU
supports runs on the simulated TPU and the rest on the CPU reference kernels. Expected outputs are
ONNX's shipped test data.

Run by ctest (runtime/python/CMakeLists.txt) as /usr/bin/python3 tests/python/test_onnx_backend.py;
-v lists every test. "Real" model tests are excluded (they download models). Every test that tpusim
cannot run is excluded below, each pattern with its reason; everything else must pass.
"""

import os
import sys
import unittest

import numpy as np

# Debian's onnx 1.12 runner still uses np.object, which numpy 1.24 removed.
if "object" not in np.__dict__:
    np.object = object

import onnx.backend.test  # noqa: E402

import tpusim.backend  # noqa: E402

# Ops that no tpusim device implements (neither a TPU lowering nor a CPU reference kernel), as the
# test-name stems of their tests: stem "cos" excludes test_cos and test_cos_*; "mvn$" excludes
# test_mvn only (ONNX's test_mvn_expanded, the same function built from primitive ops, runs).
NO_KERNEL = {
    "Acos": ["acos"], "Acosh": ["acosh"], "Asin": ["asin"], "Asinh": ["asinh"], "Atan": ["atan"],
    "Atanh": ["atanh"], "Cos": ["cos"], "Cosh": ["cosh"], "Sin": ["sin"], "Sinh": ["sinh"],
    "Tan": ["tan"],
    "And/Or/Xor/Not": ["and", "and2d", "and3d", "and4d", "or", "or2d", "or3d", "or4d",
                       "xor", "xor2d", "xor3d", "xor4d", "not"],
    "Equal/Greater/Less/Where": ["equal", "greater", "less", "where"],
    "ArgMin": ["argmin"], "Hardmax": ["hardmax"], "TopK": ["top_k"], "Unique": ["unique"],
    "NonZero": ["nonzero"], "NonMaxSuppression": ["nonmaxsuppression"],
    "Cast/CastLike": ["cast", "castlike"], "Ceil/Floor/Round": ["ceil", "floor", "round"],
    "Sign": ["sign", "sign_model"], "IsInf/IsNaN": ["isinf", "isnan"], "Mod": ["mod"],
    "Max/Min/Mean/Sum (variadic)": ["max", "min", "mean", "sum", "operator_max", "operator_min",
                                    "operator_symbolic_override_nested"],
    "Celu/Elu/Selu": ["celu", "elu", "ELU", "selu", "SELU", "operator_selu"],
    "HardSigmoid/HardSwish": ["hardsigmoid", "hardswish"], "Softplus": ["softplus", "Softplus"],
    "Softsign": ["softsign"], "Shrink": ["shrink"], "ThresholdedRelu": ["thresholdedrelu"],
    "LogSoftmax": ["logsoftmax_axis_0$", "logsoftmax_axis_1$", "logsoftmax_axis_2$",
                   "logsoftmax_default_axis$", "logsoftmax_example_1$", "logsoftmax_large_number$",
                   "logsoftmax_negative_axis$", "LogSoftmax", "log_softmax_dim3", "log_softmax_lastdim"],
    "SoftmaxCrossEntropyLoss": ["sce"], "NegativeLogLikelihoodLoss": ["nllloss"],
    "ReduceL1/L2/LogSum/Min/Prod/SumSquare": ["reduce_l1", "reduce_l2", "reduce_log_sum", "reduce_min",
                                             "reduce_prod", "reduce_sum_square"],
    "ConvTranspose": ["convtranspose", "ConvTranspose2d", "operator_convtranspose"],
    "DynamicQuantizeLinear": ["dynamicquantizelinear"],
    "InstanceNormalization/LRN/MeanVarianceNormalization": ["instancenorm", "operator_symbolic_override",
                                                            "lrn", "mvn$"],
    "Resize/Upsample/GridSample/RoiAlign/MaxUnpool": ["resize", "upsample", "gridsample", "roialign",
                                                      "maxunpool"],
    "DepthToSpace/SpaceToDepth": ["depthtospace", "spacetodepth"],
    "Gather/Scatter variants": ["gather_elements", "gathernd", "scatter", "scatternd"],
    "Tile": ["tile", "operator_repeat", "operator_repeat_dim_overflow"],
    "Compress/EyeLike/OneHot/Range/Trilu/ReverseSequence/Det": [
        "compress", "eyelike", "onehot", "range", "tril", "triu", "reversesequence", "det"],
    "Dropout": ["dropout", "training_dropout"],
    "Bernoulli/RandomUniformLike": ["bernoulli"],
    "DFT/STFT/window functions/MelWeightMatrix": ["dft", "stft", "blackmanwindow", "hammingwindow",
                                                  "hannwindow", "melweightmatrix"],
    "TfIdfVectorizer/StringNormalizer": ["tfidfvectorizer", "strnormalizer", "strnorm_model"],
    "Loop/Scan/If": ["loop11", "loop13", "loop16", "scan", "scan9", "if"],
    "training ops (ai.onnx.preview.training)": ["adagrad", "adam", "momentum", "nesterov", "gradient_of"],
}

# Tensor types tpusim does not have (float64, float16, bfloat16, uint16/32/64, int16, string) or
# values that are not tensors (sequences, optionals), for ops tpusim otherwise runs.
NO_DTYPE = ["cumsum", "einsum", "reduce_log_sum_exp", "operator_add_broadcast", "operator_add_size1_broadcast",
            "operator_add_size1_right_broadcast", "operator_add_size1_singleton_broadcast",
            "operator_addconstant", "pow_types_float32_uint32", "pow_types_float32_uint64", "bitshift",
            "sequence", "optional", "identity_opt", "identity_sequence"]

# Variants of supported ops that tpusim refuses, with the message it gives.
NO_VARIANT = {
    "maxpool_with_argmax_2d_precomputed_strides": "MaxPool: storage_order 1",
}


def make_backend_test() -> onnx.backend.test.BackendTest:
    backend = tpusim.backend.TpusimBackend.configured(tpusim_device="tpu", engine="functional", arch="tiny",
                                                      precision="highest", allow_cpu_fallback=True)
    bt = onnx.backend.test.BackendTest(backend, __name__)
    for stem in [s for stems in NO_KERNEL.values() for s in stems] + NO_DTYPE + list(NO_VARIANT):
        if stem.endswith("$"):  # one test (not its *_expanded twin, which tpusim runs)
            bt.exclude(rf"^test_{stem[:-1]}_(cpu|cuda)$")
        else:
            bt.exclude(rf"^test_{stem}(_|$)")
    return bt


backend_test = make_backend_test()
# Every category but "Real" (downloaded models): node, simple and the two PyTorch categories.
CASES = {name: case for name, case in backend_test.test_cases.items() if name != "OnnxBackendRealModelTest"}
globals().update(CASES)


class BackendApiTest(unittest.TestCase):
    """tpusim.backend through the ONNX backend API directly (expected values: hand arithmetic)."""

    def test_devices(self):
        self.assertTrue(tpusim.backend.supports_device("CPU"))
        self.assertTrue(tpusim.backend.supports_device("TPU:0"))
        self.assertFalse(tpusim.backend.supports_device("CUDA"))

    def test_run_node(self):
        from onnx import helper
        x = np.array([[-1, 2], [3, -4]], np.float32)
        (y,) = tpusim.backend.run_node(helper.make_node("Relu", ["x"], ["y"]), [x])
        np.testing.assert_array_equal(y, [[0, 2], [3, 0]])
        # x @ x = [[-1*-1 + 2*3, -1*2 + 2*-4], [3*-1 + -4*3, 3*2 + -4*-4]] = [[7, -10], [-15, 22]]
        out = tpusim.backend.run_node(helper.make_node("Gemm", ["a", "b"], ["c"]), [x, x], device="TPU")
        np.testing.assert_array_equal(out["c"], [[7, -10], [-15, 22]])

    def test_prepare_reports_and_errors(self):
        from onnx import TensorProto, helper
        graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
                                  [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 2]),
                                   helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, 1])],
                                  [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 1])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        rep = tpusim.backend.prepare(model, "CPU", engine="cycle")
        (c,) = rep.run([np.array([[1, 2]], np.float32), np.array([[3], [4]], np.float32)])
        np.testing.assert_array_equal(c, [[11]])  # 1*3 + 2*4
        self.assertGreater(rep.report()["cycles"], 0)
        with self.assertRaises(ValueError):
            tpusim.backend.prepare(model, "CUDA")
        with self.assertRaises(tpusim.InvalidArgumentError):
            rep.run([np.zeros((1, 2), np.float64), np.zeros((2, 1), np.float32)])


def selected_tests():
    return {t for case in CASES.values() for t in unittest.defaultTestLoader.getTestCaseNames(case)
            if not getattr(getattr(case, t), "__unittest_skip__", False)}


class ZSelectionTest(unittest.TestCase):
    """Guards the selection itself: it must keep running the tests tpusim passes today."""

    def test_selection_size(self):
        n = len(selected_tests())
        print(f"\nONNX backend tests selected to run on tpusim: {n}", file=sys.stderr)
        self.assertGreaterEqual(n, 430)  # 430 selected on 2026-11-26 (413 before int8, Pad, Pow, BN training, uint8 ops)

    def test_tpu_conformance_tests_are_selected(self):
        # The node tests that pass on the TPU alone (tests/onnx_conformance_pass.txt, the ops the TPU
        # claims) must all be in the selection.
        source_dir = os.environ.get("TPUSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
        with open(os.path.join(source_dir, "tests", "onnx_conformance_pass.txt")) as f:
            names = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        self.assertGreater(len(names), 0)
        missing = sorted(set(f"{n}_cpu" for n in names) - selected_tests())
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
