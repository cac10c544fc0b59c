"""`make demo` from a fresh clone, timed: the install, the workflow and both together, against the
10-minute target on 2 cores, and whether the clone reproduced the committed artifacts byte for byte.

Run: python3 benchmarks/demo_time.py [--keep]
Clones the checkout's HEAD next to it (so that `../shared` is the same folder), runs
`make .venv/.installed-demo` (the install) and then `make demo` (the workflow; `CORES`, as make
takes it, from the environment), then compares the clone's results/ with the committed files
(`git status`; results/provenance.json, rewritten by every run, aside). Prints the seconds of
each and the ratio of the whole to the reference (below 1.0 is within target). Network: what the
install downloads (PyPI and Debian packages), as `make demo` itself.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE_SECONDS = 600.0  # `make demo` from a fresh clone on 2 cores, install included


def timed(command: list[str], cwd: Path, log: Path) -> float:
    """Run `command` in `cwd` with its output appended to `log`; its seconds (a failure raises)."""
    start = time.monotonic()
    with log.open("a") as out:
        done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}); its output: {log}")
    return time.monotonic() - start


def main() -> None:
    """Clone, install, run `make demo`, and print the times' ratio to the target and the artifacts reproduced."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args()
    clone = Path(tempfile.mkdtemp(prefix="oeseg-demo-time.", dir=REPO.parent))
    log = clone.parent / f"{clone.name}.log"
    try:
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        install = timed(["make", ".venv/.installed-demo"], clone, log)
        workflow = timed(["make", "demo"], clone, log)
        status = subprocess.run(["git", "status", "--porcelain", "--", "results"], cwd=clone, check=True,
                                capture_output=True, text=True).stdout.splitlines()
        artifacts = [f for f in subprocess.run(["git", "ls-files", "results"], cwd=clone, check=True,
                                               capture_output=True, text=True).stdout.splitlines()
                     if f != "results/provenance.json"]
    finally:
        if not args.keep:
            shutil.rmtree(clone, ignore_errors=True)
    total = install + workflow
    print(f"make demo from a fresh clone: install {install:.0f} s, workflow {workflow:.0f} s, "
          f"total {total:.0f} s; ratio to the {REFERENCE_SECONDS:.0f} s target: {total / REFERENCE_SECONDS:.2f}")
    differing = [line for line in status if not line.endswith("results/provenance.json")]
    print(f"artifacts: {len(artifacts) - len(differing)} of the {len(artifacts)} committed under results/ "
          f"reproduced byte for byte" + "".join(f"\n  differs: {line}" for line in differing))
    print(f"log: {log}" + (f"; clone kept: {clone}" if args.keep else ""))


if __name__ == "__main__":
    main()
