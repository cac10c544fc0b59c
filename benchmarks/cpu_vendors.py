"""Do other CPUs compute the demo's kernels to the same bits? This machine against emulated CPUs.

Each probe runs the operations the demo's trainings are made of, under the workflow's kernel pins
(oeseg.workflow.pin_cpu_kernels): a convolution's forward and weight gradient (oneDNN), a linear
layer and a matrix product (MKL's GEMM), torch's sqrt, exp and erf (MKL's vector math), and one
AdamW step of a small convolutional net; it hashes each result. The probe runs here and under
QEMU's user mode for each `--cpu` model (`tools/install-debian-packages.sh cpu-emulation`
installs qemu-user), and the table says which results equal this machine's. QEMU computes the
approximate reciprocal instructions (rcpps, rsqrtps) exactly where CPUs approximate them, each
vendor its own way, so a difference in a result that uses them (a sqrt that is not correctly
rounded, last row) is not evidence about real hardware. `MKL_CBWR` set in the environment replaces the pin's value.

    python benchmarks/cpu_vendors.py [--cpu Haswell-v4 EPYC-Rome]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys


def probe() -> dict[str, str]:
    """Hash of each operation's result on this (possibly emulated) CPU."""
    from oeseg.workflow import pin_cpu_kernels

    pin_cpu_kernels()
    import numpy as np
    import torch

    torch.set_num_threads(1)  # as the workflow's jobs compute

    def digest(t: torch.Tensor) -> str:
        return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()[:12]

    torch.manual_seed(0)
    out = {}
    x = torch.randn(8, 24, 32, 32)
    conv = torch.nn.Conv2d(24, 48, 3, padding=1)
    y = conv(x)
    y.square().sum().backward()
    out["conv forward (oneDNN)"], out["conv weight gradient (oneDNN)"] = digest(y), digest(conv.weight.grad)
    out["linear (MKL GEMM)"] = digest(torch.nn.Linear(96, 248)(torch.randn(64, 96)))
    out["matrix product (MKL GEMM)"] = digest(torch.randn(70, 300) @ torch.randn(300, 50))
    v = torch.rand(100_003) * 1e-3
    root = v.sqrt()
    out["sqrt (MKL vector math)"] = digest(root)
    out["exp (MKL vector math)"] = digest(torch.randn(100_003).exp())
    out["erf (MKL vector math)"] = digest(torch.randn(100_003).erf())
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                              torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))
    torch.nn.functional.binary_cross_entropy_with_logits(net(torch.rand(16, 3, 48, 48)), torch.rand(16, 10)).backward()
    out["backward pass of a small net"] = digest(torch.cat([p.grad.flatten() for p in net.parameters()]))
    torch.optim.AdamW(net.parameters(), lr=3e-3).step()
    out["its AdamW step"] = digest(torch.cat([p.detach().flatten() for p in net.parameters()]))
    # 1.0 where sqrt is correctly rounded; less where it starts from an approximate instruction
    exact = np.sqrt(v.double().numpy()).astype(np.float32)
    out["sqrt correctly rounded (share)"] = f"{float((root.numpy() == exact).mean()):.3f}"
    return out


def main() -> None:
    """Run the probe here and under QEMU for each --cpu model, and print which results equal this machine's."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", nargs="+", default=["Haswell-v4", "EPYC-Rome"], help="QEMU CPU models")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe()))
        return
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("qemu-x86_64 not found: tools/install-debian-packages.sh cpu-emulation installs it")
    me = [sys.executable, os.path.abspath(__file__), "--probe"]
    runs = {"this CPU": me, **{model: [qemu, "-cpu", model, *me] for model in args.cpu}}
    results = {}
    for name, cmd in runs.items():
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{name}: the probe failed:\n{proc.stderr[-2000:]}")
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"MKL_CBWR={os.environ.get('MKL_CBWR', 'the pin')}")
    print(f"{'operation':36s}" + "".join(f"{n:>16s}" for n in runs))
    base = results["this CPU"]
    for op, value in base.items():
        cells = [value] + ["equal" if results[n][op] == value else results[n][op] if "share" in op else "differs"
                           for n in args.cpu]
        print(f"{op:36s}" + "".join(f"{c:>16s}" for c in cells))
    same = sum(results[n][op] == base[op] for n in args.cpu for op in base)
    print(f"equal to this CPU: {same} of {len(base) * len(args.cpu)} results")


if __name__ == "__main__":
    main()
