"""tpusim_torch: the tpusim PyTorch device (docs/pytorch.md).

Importing it registers torch.device("privateuseone:N") as tpusim TPU N: an allocator of tpusim device
memory, a device guard, ATen kernels (mm, addmm, convolution run on the simulated TPU; copies, views,
fill in device memory) and a CPU fallback for every other op. The functions below configure the
devices and read their counters.
"""
import torch  # noqa: F401  libtorch first: the extension registers into its dispatcher

# tpusim's layers live in libtpusim_py.so, shared with the tpusim package (tpusim._tpusim): both can be
# imported into one interpreter, in either order, and use one driver.
from ._C import (configure, device_count, device_stats, fallback_counts, reset_counters,  # noqa: F401
                 set_device_count, settings)

__all__ = ["configure", "device_count", "device_stats", "fallback_counts", "reset_counters",
           "set_device_count", "settings"]
