"""Auditing a results folder against its provenance manifest."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from oeseg.provenance.record import (LOCK_NAME, MANIFEST_NAME, code_pathspec, code_state, git,
                                     load_manifest, manifest_path, sha256_path)


@dataclass(frozen=True)
class Problem:
    """One mismatch between the results, the manifest and the code."""

    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.detail}"


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "none"


def code_changes(workdir: Path, results_dir: Path, commit: str | None,
                 now: str | None) -> str | None:
    """How the code at `now` differs from `commit` (None when only the results folder does)."""
    if commit == now:
        return None
    if commit is None or now is None:
        return f"made by commit {_short(commit)}, code is now at {_short(now)}"
    changed = git(workdir, "diff", "--name-only", commit, now, "--",
                  *code_pathspec(workdir, results_dir))
    if changed is None:
        return f"made by commit {_short(commit)}, which this repository does not have"
    files = changed.split()
    if not files:
        return None
    listed = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return (f"made by commit {_short(commit)}, code is now at {_short(now)} "
            f"(changed: {listed})")


def audit(results_dir: str | os.PathLike, workdir: str | os.PathLike = ".") -> list[Problem]:
    """Every problem found: artifacts, their inputs (paths relative to `workdir`) and the code."""
    results_dir, workdir = Path(results_dir), Path(workdir)
    path = manifest_path(results_dir)
    if not path.exists():
        return [Problem(os.fspath(path), "missing manifest", "no provenance manifest")]
    records = load_manifest(path)["artifacts"]
    problems = []
    on_disk = sorted(p.relative_to(results_dir).as_posix() for p in results_dir.rglob("*")
                     if p.is_file() and p.name not in (MANIFEST_NAME, LOCK_NAME)
                     and not p.name.startswith("."))
    for key in on_disk:
        if key not in records:
            problems.append(Problem(os.fspath(results_dir / key), "untracked artifact",
                                    "missing record: no entry in the provenance manifest"))
    now = code_state(workdir, results_dir)
    differences: dict[str | None, str | None] = {}
    for key, record in sorted(records.items()):
        artifact = results_dir / key
        name = os.fspath(artifact)
        if not artifact.exists():
            problems.append(Problem(name, "missing artifact", f"recorded (rule {record['rule']}) "
                                    "but not found"))
        elif sha256_path(artifact) != record["sha256"]:
            problems.append(Problem(name, "changed artifact", "sha256 differs from the record "
                                    f"made by rule {record['rule']}"))
        for input_path, digest in sorted(record["inputs"].items()):
            source = workdir / input_path
            if not source.exists():
                problems.append(Problem(name, "missing input", f"{input_path} not found"))
            elif sha256_path(source) != digest:
                problems.append(Problem(name, "changed input", f"{input_path} differs from the "
                                        "version it was made from"))
        made_by = record["code"]
        if made_by.get("dirty"):
            problems.append(Problem(name, "dirty code", "made from a tree with uncommitted "
                                    f"changes (commit {_short(made_by.get('commit'))})"))
        commit = made_by.get("commit")
        if commit not in differences:
            differences[commit] = code_changes(workdir, results_dir, commit, now["commit"])
        if difference := differences[commit]:
            problems.append(Problem(name, "different code", difference))
    if now["dirty"]:
        problems.append(Problem(os.fspath(workdir), "dirty code",
                                "the working tree has uncommitted changes to tracked files"))
    return problems
