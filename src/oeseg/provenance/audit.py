"""Auditing a results folder against its provenance manifest.

What a fresh clone holds (the artifacts, the manifest, the code and the config) is verified; the
recorded inputs (intermediates under `work/`, datasets) are verified where present and otherwise
listed as not present, which is no problem unless the audit is strict.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oeseg.provenance.record import (
    LOCK_NAME,
    MANIFEST_NAME,
    changed_code_files,
    code_state,
    config_sha256,
    git,
    load_manifest,
    manifest_path,
    sha256_path,
)

#: artifact outcomes, in the order the summary lists them
ARTIFACT_STATES = ("verified", "changed", "missing", "untracked")


@dataclass(frozen=True)
class Problem:
    """One mismatch between the results, the manifest, the inputs, the config and the code."""

    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        """The problem in one line: path, kind and detail."""
        return f"{self.path}: {self.kind}: {self.detail}"


@dataclass
class AuditReport:
    """The outcome of an audit: counts for the summary, the problems, the inputs not present."""

    results_dir: str
    artifacts: Counter = field(default_factory=Counter)   # ARTIFACT_STATES -> count
    inputs: Counter = field(default_factory=Counter)      # verified / changed / not present
    not_present: list[str] = field(default_factory=list)  # input paths that could not be checked
    config: str = "not checked"
    code: str = "not checked"
    problems: list[Problem] = field(default_factory=list)
    strict: bool = False                                  # inputs not present are problems
    nested: list[str] = field(default_factory=list)       # results folders inside, with their own manifest

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self.problems

    def lines(self) -> list[str]:
        """The report: the summary, then one line per problem, then the inputs not present."""
        arts = ", ".join(f"{self.artifacts[s]} {s}" for s in ARTIFACT_STATES)
        ins = ", ".join(f"{self.inputs[s]} {s}" for s in ("verified", "changed", "not present"))
        verdict = "OK" if self.ok else "FAILED"
        out = [f"audit of {self.results_dir}: {verdict}",
               f"  artifacts: {sum(self.artifacts.values())} ({arts})",
               f"  inputs: {sum(self.inputs.values())} ({ins})",
               f"  config: {self.config}",
               f"  code: {self.code}"]
        if self.nested:
            out.append(f"  other results folders inside (their own manifest; audit them on their own): "
                       f"{', '.join(self.nested)}")
        out.append(f"problems: {len(self.problems)}" if self.problems else "problems: none")
        out += [str(p) for p in self.problems]
        if self.not_present and not self.strict:
            out.append(f"inputs not present (not checked; --strict requires them): {len(self.not_present)}")
            out += [f"  {p}" for p in self.not_present]
        return out


def _short(commit: str | None) -> str:
    """A commit hash's first 12 characters, or "none"."""
    return commit[:12] if commit else "none"


def _files(files: list[str]) -> str:
    """How many code files: "1 code file", "15 code files"."""
    return f"{len(files)} code file{'' if len(files) == 1 else 's'}"


def _listed(files: list[str], limit: int = 3) -> str:
    """The first `limit` files, comma-separated, and how many more."""
    return ", ".join(files[:limit]) + (f" and {len(files) - limit} more" if len(files) > limit else "")


ConfigFiles = str | os.PathLike | Sequence[str | os.PathLike] | None


def config_files(configfiles: ConfigFiles) -> list[str | os.PathLike]:
    """The config files as a list: one path, several (layered, in order) or none (None)."""
    if configfiles is None:
        return []
    if isinstance(configfiles, (str, os.PathLike)):
        return [configfiles]
    return list(configfiles)


def effective_config(configfiles: ConfigFiles, schemas: str | os.PathLike) -> dict[str, Any]:
    """The config a workflow run sees: the config files read and merged in order as Snakemake
    merges several `--configfile`s (later files override earlier ones, nested mappings key by key),
    then checked with the Snakefile's own `oeseg.workflow.check_config` against the schemas in
    the folder `schemas` (defaults filled in); bad config is an InputError naming the file."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import update_config

    from oeseg.io import InputError
    from oeseg.workflow import check_config, read_config_file

    files = config_files(configfiles)
    config: dict[str, Any] = {}
    for configfile in files:
        layer = read_config_file(configfile) or {}
        if not isinstance(layer, dict):
            raise InputError(f"{configfile}: not a mapping of config keys")
        update_config(config, layer)
    try:
        check_config(config, schemas)
    except (WorkflowError, InputError) as e:
        raise InputError(f"{' + '.join(map(os.fspath, files))}: does not match the schemas in {schemas}: "
                         f"{e}") from None
    return config


def nested_results(results_dir: Path) -> list[Path]:
    """Folders inside the results folder that hold a manifest of their own: the results of another
    config (the paper config's `results/paper` inside the demo's `results`)."""
    return sorted(p.parent for p in results_dir.rglob(MANIFEST_NAME) if p.parent != results_dir)


def _on_disk(results_dir: Path, nested: list[Path]) -> list[str]:
    """Every file and link under the results folder (dot-files too) but the manifest, its lock and
    the files of nested results folders."""
    return sorted(key for p in results_dir.rglob("*") if (p.is_file() or p.is_symlink())
                  and not any(p.is_relative_to(n) for n in nested)
                  and (key := p.relative_to(results_dir).as_posix()) not in (MANIFEST_NAME, LOCK_NAME))


def recorded_config_files(records: dict) -> Counter[tuple[str, ...]]:
    """Each list of config files (paths, in order) the records name, with how many records name it;
    records made before config files were recorded name none."""
    return Counter(tuple(f["path"] for f in r["config_files"]) for r in records.values() if r.get("config_files"))


def changed_config_files(records: dict, workdir: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Per record, each of its config files that is present now (relative to `workdir`) with another
    sha256 than recorded: (path, recorded sha256, sha256 now)."""
    now: dict[str, str | None] = {}
    changed: dict[str, list[tuple[str, str, str]]] = {}
    for key, record in sorted(records.items()):
        for entry in record.get("config_files", []):
            path = entry["path"]
            if path not in now:
                now[path] = sha256_path(workdir / path) if (workdir / path).is_file() else None
            if now[path] is not None and now[path] != entry["sha256"]:
                changed.setdefault(key, []).append((path, entry["sha256"], now[path]))
    return changed


def _check_config(report: AuditReport, records: dict, workdir: Path, configfiles: ConfigFiles,
                  strict: bool, named_by_records: bool = False) -> None:
    """Check the config sha256 of each record against the config files' now, and each record's config
    files against their sha256 now: sets report.config, adds problems."""
    files = config_files(configfiles)
    if not files:
        report.config = "not checked (no config file given)"
        return
    configfile = " + ".join(map(os.fspath, files))
    named = ", named by the records" if named_by_records else ""
    absent = [f for f in files if not (workdir / f).exists()]
    if absent:
        report.config = f"{' + '.join(map(os.fspath, absent))} not present{named} (not checked)"
        if strict:
            report.problems += [Problem(os.fspath(workdir / f), "missing config", "not present "
                                        "(--strict requires it)") for f in absent]
        return
    digest = config_sha256(effective_config([workdir / f for f in files], workdir / "schemas"))
    others = {k: r["config_sha256"] for k, r in records.items() if r.get("config_sha256") != digest}
    changed = changed_config_files(records, workdir)
    for key, made_with in sorted(others.items()):
        since = "".join(f"; {path} changed since it was made (sha256 {_short(then)} then, {_short(sha)} now)"
                        for path, then, sha in changed.get(key, []))
        report.problems.append(Problem(os.fspath(Path(report.results_dir) / key), "different config",
                                       f"made with config sha256 {_short(made_with)}, {configfile} "
                                       f"now gives {_short(digest)}{since}"))
    report.config = (f"{configfile}{named} (sha256 {_short(digest)}): "
                     f"{len(records) - len(others)} of {len(records)} records made with it")
    if same := [k for k in changed if k not in others]:  # an edit that changes no value: a comment
        paths = sorted({path for k in same for path, _, _ in changed[k]})
        report.config += (f"; {_listed(paths)} changed since {len(same)} of them were made, the config "
                          "they give did not")


def _dirty_record(name: str, made_by: dict) -> Problem:
    """The problem of a record made from a tree with uncommitted changes."""
    files = made_by.get("dirty_files")
    changes = f"uncommitted changes to {', '.join(files)}" if files else "uncommitted changes (files not recorded)"
    return Problem(name, "dirty code", f"made from a tree with {changes} (commit {_short(made_by.get('commit'))})")


def _check_code_outside_git(report: AuditReport, records: dict, workdir: Path, results_dir: Path,
                            strict: bool) -> None:
    """Records audited in a working directory outside git (a source archive): their commit cannot be
    compared with the code, which is not checked (a problem with --strict), as a shallow clone's."""
    commits = set()
    for key, record in sorted(records.items()):
        name = os.fspath(results_dir / key)
        made_by = record["code"]
        if made_by.get("dirty"):
            report.problems.append(_dirty_record(name, made_by))
        commits.add(_short(made_by.get("commit")))
        if strict:
            report.problems.append(Problem(name, "code not checked", f"made by commit {_short(made_by.get('commit'))}, "
                                           f"and {workdir} is not a git checkout"))
    report.code = (f"not checked: {workdir} is not a git checkout (records made by "
                   f"{_listed(sorted(commits)) or 'none'})")


def _check_code(report: AuditReport, records: dict, workdir: Path, results_dir: Path,
                config_paths: Sequence[str | os.PathLike], strict: bool) -> None:
    """Check the commit (and dirty state) each record was made by against the code now (the config
    files `config_paths` are no code): adds problems; the summary names the files changed since."""
    now = code_state(workdir, results_dir, config_paths)
    if now["commit"] is None:
        _check_code_outside_git(report, records, workdir, results_dir, strict)
        return
    changed: dict[str, list[str] | None] = {}  # recorded commit -> code files changed since
    current = 0
    unknown: set[str] = set()  # commits a shallow clone lacks: not checked (a problem with --strict)
    for key, record in sorted(records.items()):
        name = os.fspath(results_dir / key)
        made_by = record["code"]
        if made_by.get("dirty"):
            report.problems.append(_dirty_record(name, made_by))
        commit = made_by.get("commit")
        if commit is None:
            report.problems.append(Problem(name, "different code", "made outside a git checkout, code is "
                                           f"now at {_short(now['commit'])}"))
            continue
        if commit != now["commit"] and git(workdir, "cat-file", "-e", f"{commit}^{{commit}}") is None:
            unknown.add(commit)
            if strict:
                report.problems.append(Problem(name, "code not checked", f"made by commit {_short(commit)}, "
                                               "which this clone lacks (git fetch --unshallow)"))
            continue
        if commit not in changed:
            changed[commit] = [] if commit == now["commit"] else changed_code_files(
                workdir, results_dir, commit, now["commit"], config_paths=config_paths)
        files = changed[commit]
        if files is None:
            report.problems.append(Problem(name, "different code", f"made by commit {_short(commit)}, which "
                                           "this repository does not have"))
        elif files:
            report.problems.append(Problem(name, "different code", f"made by commit {_short(commit)}, code is "
                                           f"now at {_short(now['commit'])} ({_files(files)} changed since, "
                                           "named in the summary)"))
        elif not made_by.get("dirty"):
            current += 1
    state = "clean"
    if now["dirty"]:
        files = now["dirty_files"]
        state = f"uncommitted changes in {_files(files)}"
        report.problems.append(Problem(os.fspath(workdir), "dirty code", "uncommitted changes to "
                                       f"tracked files: {', '.join(files)}"))
    report.code = (f"commit {_short(now['commit'])} ({state}): {current} of {len(records)} records "
                   "made by the same code")
    for commit, files in sorted(changed.items()):
        if files:
            report.code += f"; {_files(files)} changed since {_short(commit)}: {', '.join(files)}"
    if unknown:
        report.code += (f"; made by {_listed(sorted(map(_short, unknown)))}, which this clone lacks: "
                        "not checked (git fetch --unshallow)")


def audit_report(results_dir: str | os.PathLike, workdir: str | os.PathLike = ".",
                 configfiles: ConfigFiles = "config.yaml", strict: bool = False,
                 use_recorded: bool = False) -> AuditReport:
    """Audit the artifacts, their inputs (paths relative to `workdir`), the config (`configfiles`,
    relative to `workdir`: one file or several layered in order; None: not checked; with
    `use_recorded`, the config files the records name instead, where they all name the same) and
    the code. Missing inputs fail only when `strict`."""
    results_dir, workdir = Path(results_dir), Path(workdir)
    report = AuditReport(os.fspath(results_dir), strict=strict)
    path = manifest_path(results_dir)
    if not path.exists():
        report.problems.append(Problem(os.fspath(path), "missing manifest", "no provenance manifest"))
        return report
    records = load_manifest(path)["artifacts"]
    nested = nested_results(results_dir)
    report.nested = [n.relative_to(results_dir).as_posix() for n in nested]
    for key in _on_disk(results_dir, nested):
        if key not in records:
            report.artifacts["untracked"] += 1
            report.problems.append(Problem(os.fspath(results_dir / key), "untracked artifact",
                                           "missing record: no entry in the provenance manifest"))
    input_state: dict[str, str] = {}
    for key, record in sorted(records.items()):
        artifact = results_dir / key
        name = os.fspath(artifact)
        if not artifact.exists():
            report.artifacts["missing"] += 1
            report.problems.append(Problem(name, "missing artifact", f"recorded (rule {record['rule']}) "
                                           "but not found"))
        elif sha256_path(artifact) != record["sha256"]:
            report.artifacts["changed"] += 1
            report.problems.append(Problem(name, "changed artifact", "sha256 differs from the record "
                                           f"made by rule {record['rule']}"))
        else:
            report.artifacts["verified"] += 1
        for input_path, digest in sorted(record["inputs"].items()):
            source = workdir / input_path
            if not source.exists():
                input_state[input_path] = "not present"
            elif sha256_path(source) != digest:
                input_state[input_path] = "changed"
                report.problems.append(Problem(name, "changed input", f"{input_path} differs from the "
                                               "version it was made from"))
            else:
                input_state.setdefault(input_path, "verified")
    report.inputs.update(input_state.values())
    report.not_present = sorted(p for p, s in input_state.items() if s == "not present")
    if strict:
        report.problems += [Problem(os.fspath(workdir / p), "missing input",
                                    "not present (--strict requires every input)")
                            for p in report.not_present]
    named = recorded_config_files(records) if use_recorded else Counter()
    if len(named) == 1:
        _check_config(report, records, workdir, list(next(iter(named))), strict, named_by_records=True)
    else:
        _check_config(report, records, workdir, configfiles, strict)
    if len(named) > 1:
        report.config += "; the records name different config files: " + ", ".join(
            f"{' + '.join(files)} ({n} record{'' if n == 1 else 's'})" for files, n in sorted(named.items()))
    config_paths = sorted({f["path"] for r in records.values() for f in r.get("config_files", [])}
                          | {os.fspath(f) for f in config_files(configfiles)})
    _check_code(report, records, workdir, results_dir, config_paths, strict)
    return report

