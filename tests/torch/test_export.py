"""PyTorch -> ONNX -> tpusim (issue 5 item 5): small PyTorch models exported with torch.onnx.export run
on the simulated TPU through the `tpusim` Python module (runtime/python, docs/python.md) and match
PyTorch's own outputs.

Run by ctest (torch_test_export) on Debian's /usr/bin/python3 (torch 1.13, onnx 1.12) with PYTHONPATH
holding build/runtime/python. The expected values are PyTorch's CPU outputs for the same inputs.

Tolerance: |tpusim - torch| <= RTOL * |torch| + ATOL * max|torch| elementwise, RTOL = ATOL = 1e-4. Both
sides are fp32-class computations of the same function: at precision "highest" the TPU's matrix ops
err by at most (6K + 4) * 2^-24 relative to the sum of |terms| (derivation in test_device.py), about
6e-5 for the longest reduction here (K = 8 * 3 * 3 = 72 in the CNN's classifier is the largest: 128);
PyTorch's own fp32 sums err by up to K * 2^-24; BatchNormalization folded into the convolution re-rounds
the weights once (2^-24 relative); sigmoid / tanh / exp are glibc's binary32 functions (about 1 ulp) on
both sides. The models are shallow (2-3 layers, 4 LSTM steps) with O(1) activations, so the sum of
|terms| stays within a small multiple of max|output| and the propagated worst case stays below 1e-4 of
the output scale. A bf16 session (8-bit significands, ~2^-9 relative) must FAIL this tolerance: that
check shows the tolerance is tight enough to tell fp32-class from bf16 arithmetic.
"""
import io
import unittest

import numpy as np
import torch
import tpusim

RTOL = 1e-4
ATOL = 1e-4
OPSET = 13


def export(model, args, input_names, output_names):
    f = io.BytesIO()
    torch.onnx.export(model, args, f, opset_version=OPSET, input_names=input_names, output_names=output_names)
    return f.getvalue()


def tpu_session(onnx_bytes, precision="highest"):
    return tpusim.Session(onnx_bytes, device="tpu", engine="functional", arch="tiny", precision=precision)


def within_tolerance(got, want):
    return np.all(np.abs(got - want) <= RTOL * np.abs(want) + ATOL * np.abs(want).max())


class ExportTest(unittest.TestCase):
    def run_model(self, model, inputs, input_names, output_names, tpu_ops):
        """Exports `model`, runs it on tpusim's TPU and checks every output and where `tpu_ops` ran."""
        model.eval()
        with torch.no_grad():
            want = model(*inputs)
        if isinstance(want, torch.Tensor):
            want = (want,)
        else:  # LSTM: (y, (h, c))
            want = (want[0],) + tuple(want[1])
        onnx_bytes = export(model, tuple(inputs), input_names, output_names)
        s = tpu_session(onnx_bytes)
        got = s.run({n: t.numpy() for n, t in zip(input_names, inputs)})
        for name, w in zip(output_names, want):
            with self.subTest(output=name):
                g, w = got[name], w.numpy()
                self.assertEqual(g.shape, w.shape)
                err = np.abs(g - w).max()
                print(f"{self.id()} {name}: max error {err:.3e}, scale {np.abs(w).max():.3e}")
                self.assertTrue(within_tolerance(g, w), f"{name}: max error {err:.3e}, scale {np.abs(w).max():.3e}")
        placed = {}
        for p in s.placements:
            placed.setdefault(p["op_type"], set()).add(p["device"].rsplit("/device:", 1)[-1])
        for op in tpu_ops:
            self.assertIn(op, placed, f"{op} not in the exported graph: {sorted(placed)}")
            self.assertEqual(placed[op], {"TPU:0"}, f"{op} ran on {placed[op]}")
        return onnx_bytes, got

    def test_mlp(self):
        torch.manual_seed(10)
        model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        x = torch.randn(6, 20)
        onnx_bytes, _ = self.run_model(model, [x], ["x"], ["y"], ["Gemm", "Relu"])
        # The tolerance separates fp32-class from bf16 arithmetic: a bf16 session must fall outside it.
        with torch.no_grad():
            want = model(x).numpy()
        bf16 = tpu_session(onnx_bytes, precision="bf16").run({"x": x.numpy()})["y"]
        self.assertFalse(within_tolerance(bf16, want))

    def test_cnn_with_batchnorm_relu_maxpool_linear(self):
        torch.manual_seed(11)
        bn = torch.nn.BatchNorm2d(8)
        with torch.no_grad():  # non-trivial running statistics, as after training
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), bn, torch.nn.ReLU(),
                                    torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10))
        x = torch.randn(2, 3, 8, 8)
        self.run_model(model, [x], ["x"], ["y"], ["Conv", "MaxPool", "Gemm"])

    def test_lstm(self):
        torch.manual_seed(12)
        model = torch.nn.LSTM(input_size=6, hidden_size=8)
        x = torch.randn(4, 2, 6)  # [seq, batch, input]
        self.run_model(model, [x], ["x"], ["y", "h", "c"], ["LSTM"])


if __name__ == "__main__":
    unittest.main()
