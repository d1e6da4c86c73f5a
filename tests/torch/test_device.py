"""The tpusim PyTorch device (runtime/torch, docs/pytorch.md): torch.device('privateuseone:N').

Run by ctest (torch_test_device) on Debian's /usr/bin/python3 with PYTHONPATH holding the built
tpusim_torch module and TPUSIM_TPU_DEVICES=2. Expected values come from PyTorch's CPU kernels or from
float64 references computed here, never from the device under test.

Tolerances for ops the TPU computes (mm, addmm, linear, conv2d) at precision "highest" (the module's
default): each fp32 operand is split into three bf16 parts (8 significant bits each, round to nearest),
so a = a1 + a2 + a3 + r with |r| <= 2^-24 |a| (relative), and six bf16 x bf16 products, each exact in
fp32, are accumulated in fp32. The dropped cross terms (a2 b3, a3 b2, a3 b3) and the residuals add at
most ~2^-24 |a b| per product; summing 6K exact products in fp32 in any order errs by at most
gamma(6K) = 6K u / (1 - 6K u), u = 2^-24, times the sum of |products| (<= |a||b| (1 + 2^-7)); the bias
add and alpha/beta scalings add one rounding each. So, against a float64 reference,
    |y_tpu - y_exact| <= (6K + 4) * u * (|A| @ |B| + |C|)      elementwise,
which bound() computes. It is a worst case: typical errors are ~sqrt(K) u, far below it.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

import torch
import tpusim_torch

U = 2.0 ** -24
DEV0 = torch.device("privateuseone:0")
DEV1 = torch.device("privateuseone:1")


def setUpModule():
    if tpusim_torch.device_count() < 2:
        tpusim_torch.set_device_count(2)  # before any device is opened


def bound(abs_a, abs_b, k, abs_c=None):
    """The elementwise error bound above, in float64: abs_a @ abs_b (+ abs_c) times (6K + 4) u."""
    s = abs_a.double() @ abs_b.double()
    if abs_c is not None:
        s = s + abs_c.double()
    return (6 * k + 4) * U * s


def ops_on(index):
    return dict(tpusim_torch.device_stats(index)["ops"])


class RoundTripTest(unittest.TestCase):
    def test_float32_round_trip_is_bit_exact(self):
        x = torch.randn(7, 13)
        x[0, :5] = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 1e-40])  # 1e-40: subnormal
        y = x.to(DEV0).cpu()
        self.assertEqual(y.dtype, torch.float32)
        self.assertTrue(torch.equal(x.view(torch.int32), y.view(torch.int32)))  # bits, NaN included

    def test_other_dtypes_round_trip(self):
        for x in (torch.arange(-50, 50, dtype=torch.int64), torch.tensor([True, False, True]),
                  torch.randn(5, dtype=torch.float64), torch.arange(0, 255, dtype=torch.uint8),
                  torch.arange(-8, 8, dtype=torch.int32)):
            with self.subTest(dtype=x.dtype):
                y = x.to(DEV0)
                self.assertEqual(y.device, DEV0)
                self.assertTrue(torch.equal(y.cpu(), x))

    def test_views_and_device_copies_keep_values(self):
        x = torch.randn(6, 4)
        d = x.to(DEV0)
        self.assertTrue(torch.equal(d.t().cpu(), x.t()))            # a transposed view read back
        self.assertTrue(torch.equal(d[1:4, 2].cpu(), x[1:4, 2]))     # a strided slice
        self.assertTrue(torch.equal(d.t().contiguous().cpu(), x.t().contiguous()))
        self.assertTrue(torch.equal(d.clone().cpu(), x))             # device-to-device copy
        self.assertTrue(torch.equal(d.reshape(4, 6).cpu(), x.reshape(4, 6)))
        e = torch.zeros(4, 6).to(DEV0)
        e.t().copy_(x.to(DEV0))                                      # into a non-contiguous view
        self.assertTrue(torch.equal(e.cpu(), x.t()))

    def test_fill_and_zero(self):
        d = torch.empty(3, 5, device=DEV0)
        d.fill_(2.5)
        self.assertTrue(torch.equal(d.cpu(), torch.full((3, 5), 2.5)))
        d.zero_()
        self.assertTrue(torch.equal(d.cpu(), torch.zeros(3, 5)))
        self.assertTrue(torch.equal(torch.ones(2, 2, device=DEV0).cpu(), torch.ones(2, 2)))

    def test_printing_a_device_tensor(self):
        text = repr(torch.tensor([1.0, 2.0]).to(DEV0))
        self.assertIn("1.", text)
        self.assertIn("privateuseone:0", text)


class TpuKernelTest(unittest.TestCase):
    def check(self, got, exact, tol):
        err = (got.cpu().double() - exact).abs()
        worst = (err - tol).max().item()
        self.assertLessEqual(worst, 0.0, f"max error {err.max().item():.3e} exceeds the bound")

    def test_mm_runs_on_the_tpu(self):
        torch.manual_seed(1)
        a, b = torch.randn(9, 20), torch.randn(20, 11)
        before = ops_on(0).get("aten::mm", 0)
        y = torch.mm(a.to(DEV0), b.to(DEV0))
        self.assertEqual(y.device, DEV0)
        self.assertEqual(ops_on(0).get("aten::mm", 0), before + 1)
        self.check(y, a.double() @ b.double(), bound(a.abs(), b.abs(), 20))
        self.assertNotIn("aten::mm", tpusim_torch.fallback_counts())

    def test_mm_with_transposed_operands(self):
        a, b = torch.randn(16, 5), torch.randn(7, 16)  # y = a^T b^T: both through Gemm's trans flags
        y = torch.mm(a.to(DEV0).t(), b.to(DEV0).t())
        self.check(y, a.double().t() @ b.double().t(), bound(a.t().abs(), b.t().abs(), 16))

    def test_addmm_with_alpha_beta(self):
        c, a, b = torch.randn(6, 9), torch.randn(6, 13), torch.randn(13, 9)
        y = torch.addmm(c.to(DEV0), a.to(DEV0), b.to(DEV0), beta=0.5, alpha=2.0)
        exact = 0.5 * c.double() + 2.0 * (a.double() @ b.double())
        self.check(y, exact, bound(2 * a.abs(), b.abs(), 13, 0.5 * c.abs()))
        self.assertGreaterEqual(ops_on(0).get("aten::addmm", 0), 1)

    def test_linear_with_bias(self):
        x, w, bias = torch.randn(5, 24), torch.randn(10, 24), torch.randn(10)
        before = ops_on(0).get("aten::addmm", 0)
        y = torch.nn.functional.linear(x.to(DEV0), w.to(DEV0), bias.to(DEV0))
        self.assertEqual(ops_on(0).get("aten::addmm", 0), before + 1)  # linear -> addmm(b, x, w^T)
        exact = x.double() @ w.double().t() + bias.double()
        self.check(y, exact, bound(x.abs(), w.abs().t(), 24, bias.abs()))

    def test_conv2d(self):
        torch.manual_seed(2)
        for stride, padding, dilation, groups in ((1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (1, 1, 1, 2)):
            with self.subTest(stride=stride, padding=padding, dilation=dilation, groups=groups):
                x, w, b = torch.randn(2, 4, 9, 8), torch.randn(6, 4 // groups, 3, 3), torch.randn(6)
                before = ops_on(0).get("aten::convolution", 0)
                y = torch.nn.functional.conv2d(x.to(DEV0), w.to(DEV0), b.to(DEV0), stride, padding, dilation, groups)
                self.assertEqual(ops_on(0).get("aten::convolution", 0), before + 1)
                args = (stride, padding, dilation, groups)
                exact = torch.nn.functional.conv2d(x.double(), w.double(), b.double(), *args)
                # |x| * |w| summed over the window is the conv of the absolute values.
                abs_sum = torch.nn.functional.conv2d(x.abs().double(), w.abs().double(), b.abs().double(), *args)
                k = (4 // groups) * 9
                self.check(y, exact, (6 * k + 4) * U * abs_sum)

    def test_mlp_forward_matches_cpu(self):
        torch.manual_seed(3)
        model = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()
        x = torch.randn(8, 32)
        with torch.no_grad():
            y = model.to(DEV0)(x.to(DEV0))
            model.cpu()
            l1, l2 = model[0], model[2]
            w1, b1, w2, b2 = (t.double() for t in (l1.weight, l1.bias, l2.weight, l2.bias))
            h = torch.relu(x.double() @ w1.t() + b1)
            exact = h @ w2.t() + b2
            # Layer 1's bound passes through ReLU (1-Lipschitz) and |W2| into layer 2's, plus layer 2's own.
            h_tol = bound(x.abs(), w1.abs().t(), 32, b1.abs())
            tol = bound(h.abs() + h_tol, w2.abs().t(), 16, b2.abs()) + h_tol @ w2.abs().t()
        self.assertEqual(y.device, DEV0)
        self.check(y, exact, tol)
        self.assertIn("aten::relu", tpusim_torch.fallback_counts())  # ReLU has no TPU kernel here

    def test_backward_through_linear(self):
        torch.manual_seed(4)
        x, w, b, g = torch.randn(6, 10), torch.randn(4, 10), torch.randn(4), torch.randn(6, 4)
        xd, wd, bd = (t.to(DEV0).requires_grad_() for t in (x, w, b))
        before = ops_on(0).get("aten::mm", 0)
        (torch.nn.functional.linear(xd, wd, bd) * g.to(DEV0)).sum().backward()
        self.assertEqual(ops_on(0).get("aten::mm", 0), before + 2)  # dW and dx on the TPU
        self.assertEqual(wd.grad.device, DEV0)
        self.check(wd.grad, g.double().t() @ x.double(), bound(g.t().abs(), x.abs(), 6))  # dW = g^T x
        self.check(xd.grad, g.double() @ w.double(), bound(g.abs(), w.abs(), 4))          # dx = g W
        self.assertTrue(torch.equal(bd.grad.cpu(), g.sum(0)))  # db: a CPU-fallback sum of the same values

    def test_cycle_engine_gives_the_functional_engines_bits(self):
        # Engines must agree bit for bit; the cycle engine runs in a subprocess (settings are per process).
        script = (
            "import sys, torch, tpusim_torch\n"
            "tpusim_torch.configure(engine='cycle')\n"
            "torch.manual_seed(5)\n"
            "a, b = torch.randn(9, 12), torch.randn(12, 7)\n"
            "y = torch.mm(a.to('privateuseone:0'), b.to('privateuseone:0')).cpu()\n"
            "assert 'cycle engine' in tpusim_torch.device_stats(0)['description']\n"
            "torch.save(y, sys.argv[1])\n")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "y.pt")
            subprocess.run([sys.executable, "-c", script, path], check=True)
            cycle = torch.load(path)
        torch.manual_seed(5)
        a, b = torch.randn(9, 12), torch.randn(12, 7)
        functional = torch.mm(a.to(DEV0), b.to(DEV0)).cpu()
        self.assertTrue(torch.equal(cycle.view(torch.int32), functional.view(torch.int32)))


class FallbackTest(unittest.TestCase):
    def test_ops_without_a_kernel_run_on_the_cpu_exactly(self):
        x, y = torch.randn(4, 7), torch.randn(4, 7)
        tpusim_torch.reset_counters()
        got_sin = torch.sin(x.to(DEV0))
        got_add = x.to(DEV0) + y.to(DEV0)
        self.assertEqual(got_sin.device, DEV0)
        self.assertTrue(torch.equal(got_sin.cpu(), torch.sin(x)))
        self.assertTrue(torch.equal(got_add.cpu(), x + y))
        counts = tpusim_torch.fallback_counts()
        self.assertGreaterEqual(counts.get("aten::sin", 0), 1)
        self.assertGreaterEqual(counts.get("aten::add", 0), 1)

    def test_in_place_fallback_writes_the_device_tensor(self):
        x = torch.randn(3, 3)
        d = x.to(DEV0)
        d.mul_(3.0)
        self.assertTrue(torch.equal(d.cpu(), x * 3.0))


class MultiDeviceTest(unittest.TestCase):
    def test_tensor_stays_on_device_1_and_mm_runs_there(self):
        a, b = torch.randn(8, 8), torch.randn(8, 8)
        d0_before, d1_before = ops_on(0).get("aten::mm", 0), ops_on(1).get("aten::mm", 0)
        a1, b1 = a.to(DEV1), b.to(DEV1)
        self.assertEqual(a1.device, DEV1)
        y = torch.mm(a1, b1)
        self.assertEqual(y.device, DEV1)
        self.assertEqual(ops_on(1).get("aten::mm", 0), d1_before + 1)
        self.assertEqual(ops_on(0).get("aten::mm", 0), d0_before)
        self.assertTrue(tpusim_torch.device_stats(1)["open"])
        self.assertGreater(tpusim_torch.device_stats(1)["bytes_in_use"], 0)
        exact = a.double() @ b.double()
        self.assertLessEqual(((y.cpu().double() - exact).abs() - bound(a.abs(), b.abs(), 8)).max().item(), 0.0)

    def test_fallback_results_stay_on_device_1(self):
        x = torch.randn(4, 4)
        y = torch.sin(x.to(DEV1))
        self.assertEqual(y.device, DEV1)
        self.assertTrue(torch.equal(y.cpu(), torch.sin(x)))

    def test_copy_between_devices(self):
        x = torch.randn(5, 3)
        moved = x.to(DEV1).to(DEV0)
        self.assertEqual(moved.device, DEV0)
        self.assertTrue(torch.equal(moved.cpu(), x))

    def test_mixing_devices_in_one_op_is_an_error(self):
        with self.assertRaisesRegex(RuntimeError, "privateuseone"):
            torch.mm(torch.randn(2, 2).to(DEV0), torch.randn(2, 2).to(DEV1))


class ErrorTest(unittest.TestCase):
    def test_device_index_out_of_range(self):
        with self.assertRaisesRegex(IndexError, "out of range"):
            torch.zeros(2, device="privateuseone:7")
        with self.assertRaisesRegex(IndexError, "out of range"):
            torch.randn(2).to("privateuseone:5")
        with self.assertRaises(IndexError):
            tpusim_torch.device_stats(9)

    def test_bad_shapes_raise(self):
        with self.assertRaisesRegex(RuntimeError, "cannot be multiplied"):
            torch.mm(torch.randn(2, 3).to(DEV0), torch.randn(4, 2).to(DEV0))

    def test_settings_are_fixed_once_a_device_is_open(self):
        torch.zeros(1, device=DEV0)
        with self.assertRaisesRegex(RuntimeError, "fixed"):
            tpusim_torch.configure(engine="cycle")
        with self.assertRaises(ValueError):
            tpusim_torch.configure(precision="quadruple")
        self.assertEqual(tpusim_torch.settings()["precision"], "highest")


@unittest.skipIf(importlib.util.find_spec("tpusim") is None, "the tpusim package is not on PYTHONPATH")
class TpusimPackageTest(unittest.TestCase):
    """tpusim_torch and the tpusim package in one interpreter: both extensions link libtpusim_py.so, so
    tpusim's protobuf code is registered once (two copies would abort the process)."""

    def test_session_and_device_in_one_process(self):
        import numpy as np
        from onnx import TensorProto, helper

        import tpusim  # imported after tpusim_torch (the module imports it first)

        rng = np.random.RandomState(3)
        x, w = rng.randn(3, 5).astype(np.float32), rng.randn(5, 4).astype(np.float32)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
             helper.make_node("Relu", ["xw"], ["y"], name="relu")],
            "mm_relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
            initializer=[helper.make_tensor("w", TensorProto.FLOAT, [5, 4], w.flatten())])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
        s = tpusim.Session(model, device="tpu", engine="functional", arch="tiny", precision="highest")
        self.assertTrue(next(p for p in s.placements if p["node"] == "mm")["device"].endswith("TPU:0"))

        # References in float64 (numpy / torch CPU). The session's MatMul uses the same "highest"
        # arithmetic as the device's mm, so bound() applies to both; Relu is 1-Lipschitz, so the
        # MatMul's bound holds after it too.
        exact = torch.from_numpy(x.astype(np.float64) @ w.astype(np.float64))
        tol = bound(torch.from_numpy(x).abs(), torch.from_numpy(w).abs(), 5)
        for _ in range(2):  # the session, the device, the session again: each keeps working
            y = torch.from_numpy(s.run({"x": x})["y"]).double()
            self.assertLessEqual((y - exact.clamp(min=0)).abs().sub(tol).max().item(), 0.0)
            before = ops_on(0).get("aten::mm", 0)
            d = torch.mm(torch.from_numpy(x).to(DEV0), torch.from_numpy(w).to(DEV0))
            self.assertEqual(d.device, DEV0)
            self.assertEqual(ops_on(0).get("aten::mm", 0), before + 1)
            self.assertLessEqual((d.cpu().double() - exact).abs().sub(tol).max().item(), 0.0)

    def test_tpusim_first_then_tpusim_torch(self):
        # The other import order, in a fresh interpreter (this one has tpusim_torch already).
        script = (
            "import numpy as np, tpusim, torch, tpusim_torch\n"
            "from onnx import TensorProto, helper\n"
            "g = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'relu',\n"
            "    [helper.make_tensor_value_info('x', TensorProto.FLOAT, [4])],\n"
            "    [helper.make_tensor_value_info('y', TensorProto.FLOAT, [4])])\n"
            "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]).SerializeToString()\n"
            "y = tpusim.Session(m, device='cpu').run({'x': np.array([-1, 2, -3, 4], np.float32)})['y']\n"
            "assert y.tolist() == [0, 2, 0, 4], y\n"
            "a = torch.tensor([[1., 2.], [3., 4.]])\n"
            "d = torch.mm(a.to('privateuseone:0'), a.to('privateuseone:0')).cpu()\n"
            "assert d.tolist() == [[7., 10.], [15., 22.]], d  # small integers: exact in any precision\n")
        subprocess.run([sys.executable, "-c", script], check=True)


if __name__ == "__main__":
    unittest.main()
