"""The workflow fixes the instruction set of the CPU kernels of its jobs (oeseg.workflow.pin_cpu_kernels),
so that a CPU with AVX-512 trains the same weights as one with AVX2 alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from small_workflow import REPO, SNAKEMAKE

from oeseg.workflow import CPU_KERNEL_PINS, pin_cpu_kernels, read_cpuinfo

HAS_AVX2 = "avx2" in read_cpuinfo().get("flags", "").split()


def cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: {flags}\n\n")
    return path


def test_pins_fill_what_the_user_left_unset(tmp_path):
    environ = {"MKL_CBWR": "COMPATIBLE", "PATH": "/bin"}
    pinned = pin_cpu_kernels(environ, cpuinfo(tmp_path, "fpu sse2 avx avx2 fma avx512f"))
    assert pinned == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert environ == {**CPU_KERNEL_PINS, "MKL_CBWR": "COMPATIBLE", "PATH": "/bin"}


def test_read_cpuinfo_takes_the_first_processor(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU: v4\n"
                    "flags\t\t: fpu avx2\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\n")
    assert read_cpuinfo(path) == {"processor": "0", "vendor_id": "GenuineIntel",
                                  "model name": "Intel(R) Xeon(R) CPU: v4", "flags": "fpu avx2"}
    assert read_cpuinfo(tmp_path / "absent") == {}


def test_no_pins_without_avx2_or_cpuinfo(tmp_path):
    environ: dict[str, str] = {}
    assert pin_cpu_kernels(environ, cpuinfo(tmp_path, "fpu sse2 avx")) == {}
    assert pin_cpu_kernels(environ, tmp_path / "absent") == {}
    assert environ == {}


@pytest.mark.skipif(not HAS_AVX2, reason="needs an x86-64 CPU with AVX2")
def test_every_job_computes_with_avx2_kernels(tmp_path):
    """A job of a workflow that includes rules/common.smk (as the Snakefile does) runs torch's
    kernels at AVX2 and sees MKL's and oneDNN's pins, on this machine whatever its widest ones."""
    (tmp_path / "Snakefile").write_text(f'''\
configfile: "{REPO}/config.yaml"


include: "{REPO}/rules/common.smk"


rule kernels:
    output:
        "kernels.txt",
    shell:
        "{sys.executable} -c 'import torch; print(torch.backends.cpu.get_cpu_capability())' > {{output}};"
        " printenv MKL_CBWR ONEDNN_MAX_CPU_ISA >> {{output}}"
''')
    env = {k: v for k, v in os.environ.items() if k not in CPU_KERNEL_PINS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run([SNAKEMAKE, "--cores", "1"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "kernels.txt").read_text().split() == ["AVX2", "AVX2", "AVX2"]
