"""Remove the GPU-only payload that PyPI's CUDA build of torch installs but a CPU worker never loads.

PyPI serves torch for linux/x86_64 only as a CUDA build: `import torch` needs the CUDA libraries that
torch's own shared objects link against (libcudart, cuBLAS, cuFFT, NCCL ...), so those stay. What goes is
what nothing loads unless a GPU kernel runs: Triton (torch.compile's GPU code generator), cuDNN's engine
libraries (libcudnn.so.9 dlopens them only for a convolution on a GPU), NVSHMEM's device bitcode and
network transports, cusolverMg/nvperf/nvblas, headers and static archives. About 2.3 GB of 6 GB.
The build checks the result at once: torch imports and trains a step on CPU (see `check()` below).

    python trim_gpu.py VENV
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REMOVE = [
    "triton",
    "triton-*.dist-info",
    "torch/include",
    "torch/share",
    "nvidia/*/include",
    "nvidia/cu13/cccl",
    "nvidia/cudnn/lib/libcudnn_*.so*",  # libcudnn.so.9 (linked by torch) stays
    "nvidia/cu13/lib/libcusolverMg.so*",
    "nvidia/cu13/lib/libnvperf_*.so",
    "nvidia/cu13/lib/libnvblas.so*",
    "nvidia/cu13/lib/libcufftw.so*",
    "nvidia/cu13/lib/libpcsamplingutil.so",
    "nvidia/cu13/lib/libcheckpoint.so",
    "nvidia/cu13/lib/libcufile_rdma.so*",
    "nvidia/nvshmem/lib/*.bc",
    "nvidia/nvshmem/lib/nvshmem_bootstrap_*",
    "nvidia/nvshmem/lib/nvshmem_transport_*",
    "**/*.a",
]


def size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def trim(site: Path) -> int:
    freed = 0
    for pattern in REMOVE:
        for path in sorted(site.glob(pattern)):
            freed += size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return freed


def check() -> str:
    """torch imports without what was removed and runs a forward/backward/step on CPU."""
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(16, 64)), torch.randint(0, 10, (16,)))
    loss.backward()
    optim.step()
    return str(torch.__version__)


def main() -> None:
    venv = Path(sys.argv[1])
    (site,) = venv.glob("lib/python3*/site-packages")
    before = size(site)
    freed = trim(site)
    print(f"trim_gpu: removed {freed / 2**20:.0f} MiB of {before / 2**20:.0f} MiB in {site}")
    print(f"trim_gpu: torch {check()} imports and trains on CPU")


if __name__ == "__main__":
    main()
