"""Recording provenance: one entry per tracked artifact in `<results>/provenance.json`.

A rule's script runs inside `oeseg.workflow.rule_step`; when its body succeeds, every output that
lies under the config's `results` folder is recorded here: its sha256, the rule, the sha256 of each
input, the parameters and wildcards (secrets scrubbed), the config's sha256, the config files the
run was given (their paths and sha256s, in order), the code's git commit and whether the tree was
dirty (and which files), the versions of the packages the job imported, the instruction set its CPU
kernels were held to, and when. The manifest is updated under a file lock and replaced atomically,
so jobs finishing at once on a cluster (shared file system) never lose each other's entries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import oeseg
from oeseg.io import REDACTED, InputError, atomic_write_json, file_lock, read_json, redact_url, sha256_file

MANIFEST_NAME = "provenance.json"
LOCK_NAME = ".provenance.lock"
FORMAT_VERSION = 1
#: The environment variable that hands the jobs the workflow's config files (export_config_files,
#: called by rules/common.smk; every job inherits it): a JSON list of {"path", "sha256"}.
CONFIG_FILES_ENV = "OESEG_CONFIG_FILES"

#: keys whose values are never written (matched anywhere in the key, case-insensitive)
SECRET_KEY_PATTERN = re.compile(r"key|token|passw|secret|credential|netrc|cookie", re.IGNORECASE)
#: environment values shorter than this are not searched for inside recorded strings
_MIN_SECRET_LENGTH = 6


def manifest_path(results_dir: str | os.PathLike) -> Path:
    """The provenance manifest of a results folder."""
    return Path(results_dir) / MANIFEST_NAME


def _secret_env_values(names: Iterable[str] = ()) -> list[str]:
    """The values of the environment's secret-named variables and of the variables `names` (long
    enough to redact), longest first."""
    names = set(names)
    return sorted(
        {v for k, v in os.environ.items()
         if (SECRET_KEY_PATTERN.search(k) or k in names) and len(v) >= _MIN_SECRET_LENGTH},
        key=len, reverse=True,
    )


def config_secret_names(config: Mapping[str, Any]) -> list[str]:
    """The environment variables the config names as holding a secret, whatever their names:
    lexicon.openai.api_key_env (the LLM endpoint's API key)."""
    openai = (config.get("lexicon") or {}).get("openai") or {}
    name = openai.get("api_key_env") if isinstance(openai, Mapping) else None
    return [name] if isinstance(name, str) and name else []


#: A URL inside any text (up to whitespace or a quote).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
#: A URL's user:password part: from "://" to the last "@" before the first "/" or whitespace, so
#: that a password with a quote, "#" or "?" in it (unencoded) goes too.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s/]*@")


def _redact_found_url(url: str) -> str:
    """A URL found in text without its user:password part and query values (redact_url, which cuts
    one that does not parse after its scheme)."""
    return url if "@" not in url and "?" not in url else redact_url(url)


def scrub(obj: Any, secret_values: Iterable[str] | None = None) -> Any:
    """A JSON-ready copy of `obj` with every secret replaced by "<redacted>".

    Secrets are the values of keys named like key/token/password/secret/credential, any
    occurrence of the value of an environment variable so named (e.g. OPENAI_API_KEY; given
    `secret_values`, those values instead: record_rule adds the variables the config names,
    config_secret_names), and the user:password part and query values of URLs
    (`oeseg.io.redact_url`; a URL that does not parse is cut after its scheme).
    """
    values = list(_secret_env_values() if secret_values is None else secret_values)

    def walk(o: Any) -> Any:
        """The scrubbed, JSON-ready copy of `o`."""
        if isinstance(o, Mapping):
            return {str(k): REDACTED if SECRET_KEY_PATTERN.search(str(k)) else walk(v)
                    for k, v in o.items()}
        if isinstance(o, (list, tuple, set, frozenset)):
            return [walk(v) for v in o]
        if o is None or isinstance(o, (bool, int, float)):
            return o
        text = o if isinstance(o, str) else (os.fspath(o) if isinstance(o, os.PathLike) else str(o))
        for secret in values:
            text = text.replace(secret, REDACTED)
        return _URL.sub(lambda m: _redact_found_url(m.group()), _USERINFO.sub(r"\1", text))

    return walk(obj)


def sha256_path(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, or of a folder (its files' relative paths and sha256s, sorted)."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
    return h.hexdigest()


def config_sha256(config: Mapping[str, Any]) -> str:
    """sha256 of the effective config (canonical JSON: sorted keys, no whitespace)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_file_entries(paths: Iterable[str | os.PathLike]) -> list[dict[str, str]]:
    """Each config file's path (relative to the working directory where it lies under it, as given
    otherwise) and sha256, in the order given."""
    cwd = Path.cwd()
    entries = []
    for path in paths:
        try:
            name = Path(os.path.abspath(path)).relative_to(cwd).as_posix()
        except ValueError:
            name = os.fspath(path)
        entries.append({"path": name, "sha256": sha256_file(path)})
    return entries


def layered_config_files(workflow: Any) -> list[str | os.PathLike]:
    """The config files of a Snakemake workflow in the order their content was layered: those of its
    `configfile:` directives first (none with --replace-workflow-config), then the --configfile ones,
    which `workflow.configfiles` lists first but Snakemake layers over the directives'. A file
    layered twice counts where it was layered last (the same config)."""
    given = list(workflow.config_settings.configfiles)
    directives = [] if workflow.config_settings.replace_workflow_config else workflow.configfiles[len(given):]
    files = [*directives, *given]
    last = {os.path.abspath(f): i for i, f in enumerate(files)}
    return [f for i, f in enumerate(files) if last[os.path.abspath(f)] == i]


def export_config_files(paths: Iterable[str | os.PathLike],
                        environ: MutableMapping[str, str] = os.environ) -> list[dict[str, str]]:
    """Hand the jobs the config files the workflow was given (layered_config_files): their
    config_file_entries, set in `environ` as CONFIG_FILES_ENV; returns the entries."""
    entries = config_file_entries(paths)
    environ[CONFIG_FILES_ENV] = json.dumps(entries)
    return entries


def exported_config_files(environ: Mapping[str, str] = os.environ) -> list[dict[str, str]] | None:
    """The config files the workflow handed this job (export_config_files); None when it handed none
    (a rule body run outside the workflow)."""
    text = environ.get(CONFIG_FILES_ENV)
    if text is None:
        return None
    where = f"environment variable {CONFIG_FILES_ENV}"
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: not JSON ({e})") from None
    _check_config_files_field(entries, where)
    return entries


def _check_config_files_field(entries: Any, where: str) -> None:
    """Check a list of config files ({"path", "sha256"} objects, both strings); an InputError names
    `where` and the entry's field."""
    if not isinstance(entries, list):
        raise InputError(f"{where}: must be a list of {{path, sha256}} objects, got {type(entries).__name__}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(f"{where}[{i}]: must be an object with path and sha256, got {type(entry).__name__}")
        for key in ("path", "sha256"):
            if not isinstance(entry.get(key), str):
                raise InputError(f"{where}[{i}].{key}: must be a string, got {type(entry.get(key)).__name__}")


def git(workdir: str | os.PathLike, *args: str) -> str | None:
    """Output of a git command run in `workdir`, None if it fails (or git or the repo is absent)."""
    try:
        done = subprocess.run(["git", *args], cwd=workdir, capture_output=True, text=True,
                              check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout


def code_state(workdir: str | os.PathLike, results_dir: str | os.PathLike,
               config_paths: Iterable[str | os.PathLike] = ()) -> dict[str, Any]:
    """{"commit", "dirty", "dirty_files"} of the git checkout at `workdir` (None, None, [] where
    `workdir` is no checkout: outside git, or an untracked copy inside another repository).

    Dirty means a tracked (or `git add`ed) code file differs from the commit; `dirty_files` names
    them (changed_code_files against HEAD). The results folder (the artifacts themselves, committed to the
    repository), the config files `config_paths` and untracked files do not count.
    """
    workdir = Path(workdir).resolve()
    commit = git(workdir, "rev-parse", "HEAD")
    if commit is None or not git(workdir, "ls-files", "--", "."):
        return {"commit": None, "dirty": None, "dirty_files": []}
    files = changed_code_files(workdir, results_dir, "HEAD", config_paths=config_paths) or []
    return {"commit": commit.strip(), "dirty": bool(files), "dirty_files": files}


def changed_code_files(workdir: str | os.PathLike, results_dir: str | os.PathLike, *revisions: str,
                       config_paths: Iterable[str | os.PathLike] = ()) -> list[str] | None:
    """The code files (code_pathspec) that differ as `git diff REVISIONS` compares them (one revision:
    the working tree and the index against it; two: the commits), a renamed file by both its names;
    None where git fails (a commit the repository lacks)."""
    changed = git(workdir, "diff", "--name-only", "--no-renames", "-z", *revisions, "--",
                  *code_pathspec(workdir, results_dir, config_paths))
    return None if changed is None else sorted({name for name in changed.split("\0") if name})


#: paths (git globs) that cannot change an artifact: not code for the audit
NOT_CODE = ("**/*.md", "report/*.rst", "tests/**", "benchmarks/**", ".ci/**", "config.yaml", "configs/*.yaml")


def code_pathspec(workdir: str | os.PathLike, results_dir: str | os.PathLike,
                  config_paths: Iterable[str | os.PathLike] = ()) -> list[str]:
    """git pathspec of the code: the tree of `workdir` except the results folder and every tracked
    folder that holds a provenance manifest (the checkout's own results, when the audited folder is
    a copy elsewhere), what cannot change an artifact (documentation, the captions of
    `snakemake --report`, tests, benchmarks, CI scripts) and the workflow's config files, the
    `configs/` folder's and `config_paths` (audited by their effective content, so a comment edit
    changes nothing)."""
    workdir = Path(workdir).resolve()
    pathspec = [".", *(f":(exclude,glob){p}" for p in NOT_CODE)]
    # the results folder as given (relative to this process's folder), config files relative to `workdir`
    for path in (Path(results_dir).resolve(), *((workdir / p).resolve() for p in config_paths)):
        with contextlib.suppress(ValueError):  # outside the tree: nothing to exclude
            pathspec.append(f":(exclude,literal){path.relative_to(workdir).as_posix()}")
    manifests = git(workdir, "ls-files", "--", f":(glob)**/{MANIFEST_NAME}") or ""
    folders = {Path(m).parent.as_posix() for m in manifests.splitlines() if m.strip()} - {"."}
    pathspec += [f":(exclude){folder}" for folder in sorted(folders)]
    return pathspec


def package_versions() -> dict[str, str]:
    """Versions of Python, oeseg and every installed distribution this process has imported (a
    standard-library module is Python's, even where a distribution of its name is installed)."""
    imported = {name.partition(".")[0] for name in list(sys.modules)} - sys.stdlib_module_names
    dists = {d for module, names in importlib.metadata.packages_distributions().items()
             if module in imported for d in names}
    versions = {"python": platform.python_version(), "oeseg": oeseg.__version__}
    for d in sorted(dists, key=str.lower):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[d] = importlib.metadata.version(d)
    return versions


def cpu_kernels() -> dict[str, str]:
    """The CPU kernels' instruction set held in this job's environment (oeseg.workflow.pin_cpu_kernels)."""
    from oeseg.workflow import CPU_KERNEL_PINS  # oeseg.workflow imports this module

    return {k: os.environ[k] for k in CPU_KERNEL_PINS if k in os.environ}


def cpu_model() -> dict[str, str]:
    """The job's CPU, its vendor and model name: the pinned kernels still compute other last bits
    on another vendor's CPU (README, "The demo")."""
    from oeseg.workflow import read_cpuinfo  # oeseg.workflow imports this module

    info = read_cpuinfo()
    return {key: info[field] for key, field in (("vendor", "vendor_id"), ("model", "model name")) if field in info}


@contextlib.contextmanager
def locked_manifest(results_dir: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Hold the manifest's lock; yield its content, written back atomically on success."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = manifest_path(results_dir)
    with file_lock(results_dir / LOCK_NAME):
        manifest = load_manifest(path) if path.exists() else new_manifest()
        yield manifest
        atomic_write_json(path, manifest)


def new_manifest() -> dict[str, Any]:
    """An empty manifest."""
    return {"format": FORMAT_VERSION, "artifacts": {}}


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a manifest; a malformed one is an InputError naming the field."""
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise InputError(f"{path}: not a provenance manifest of format {FORMAT_VERSION}")
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict):
        raise InputError(f"{path}: field 'artifacts' must be an object")
    for name, entry in artifacts.items():
        for field, kind in _RECORD_FIELDS.items():
            if not isinstance(entry, dict) or field not in entry:
                raise InputError(f"{path}: artifacts.{name}: missing field '{field}'")
            if not isinstance(entry[field], kind):
                raise InputError(f"{path}: artifacts.{name}.{field}: must be {_KIND_NAMES[kind]}, got "
                                 f"{type(entry[field]).__name__}")
        if not isinstance(entry.get("config_sha256", ""), (str, type(None))):
            raise InputError(f"{path}: artifacts.{name}.config_sha256: must be a string, got "
                             f"{type(entry['config_sha256']).__name__}")
        if "config_files" in entry:  # records made before config files were recorded lack it
            _check_config_files_field(entry["config_files"], f"{path}: artifacts.{name}.config_files")
        dirty_files = entry["code"].get("dirty_files", [])
        if not (isinstance(dirty_files, list) and all(isinstance(f, str) for f in dirty_files)):
            raise InputError(f"{path}: artifacts.{name}.code.dirty_files: must be a list of file names")
        commit = entry["code"].get("commit")
        if commit is not None and not (isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{4,64}", commit)):
            raise InputError(f"{path}: artifacts.{name}.code.commit: must be a git commit id or null, got {commit!r}")
        if not all(isinstance(v, str) for v in entry["inputs"].values()):
            raise InputError(f"{path}: artifacts.{name}.inputs: each input's value must be its sha256 (a string)")
    return manifest


#: The fields of an artifact's record that the audit reads, with their JSON types.
_RECORD_FIELDS: dict[str, type] = {"sha256": str, "rule": str, "inputs": dict, "code": dict}
_KIND_NAMES = {str: "a string", dict: "an object"}


def artifact_key(path: str | os.PathLike, results_dir: str | os.PathLike) -> str | None:
    """The manifest key (path relative to the results folder) of a file, None if outside it."""
    try:
        rel = Path(path).resolve().relative_to(Path(results_dir).resolve())
    except ValueError:
        return None
    key = rel.as_posix()
    return None if key in (".", MANIFEST_NAME, LOCK_NAME) else key


def _named(values: Any) -> Any:
    """A snakemake Namedlist (params, wildcards) as a dict, or a list when nothing is named."""
    named = dict(values.items()) if hasattr(values, "items") else {}
    return named if named or not values else list(values)


def record_rule(snakemake: Any) -> list[str]:
    """Record every output of the finished rule that lies under config["results"].

    Returns the manifest keys recorded (none when the rule makes no tracked artifact).
    """
    config = getattr(snakemake, "config", None) or {}
    if "results" not in config:
        return []
    results_dir = Path(config["results"])
    outputs = {}
    for out in snakemake.output:
        key = artifact_key(out, results_dir)
        if key is not None:
            outputs[key] = Path(out)
    if not outputs:
        return []
    secrets = _secret_env_values(config_secret_names(config))
    files = exported_config_files()
    common = {
        "rule": snakemake.rule,
        "inputs": {os.fspath(i): sha256_path(i) for i in snakemake.input},
        "params": scrub(_named(snakemake.params), secrets),
        "wildcards": scrub(_named(snakemake.wildcards), secrets),
        "config_sha256": config_sha256(config),
        **({"config_files": files} if files is not None else {}),
        "code": code_state(".", results_dir, [f["path"] for f in files or []]),
        "packages": package_versions(),
        "cpu_kernels": cpu_kernels(),
        "cpu": cpu_model(),
    }
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    entries = {key: {"sha256": sha256_path(path), **common, "created": created}
               for key, path in outputs.items()}
    with locked_manifest(results_dir) as manifest:
        manifest["artifacts"].update(entries)
        manifest["artifacts"] = dict(sorted(manifest["artifacts"].items()))
    return sorted(entries)


def finalize_manifest(results_dir: str | os.PathLike, artifacts: Iterable[str | os.PathLike]) -> None:
    """Check that each artifact is recorded with its current sha256; drop records of vanished files.

    Run by the workflow's last rule (`provenance`) once every tracked artifact exists; an artifact
    made outside `rule_step`, or changed after its rule finished, is an InputError.
    """
    results_dir = Path(results_dir)
    with locked_manifest(results_dir) as manifest:
        records = manifest["artifacts"]
        for key in [k for k in records if not (results_dir / k).exists()]:
            del records[key]
        problems = []
        for artifact in artifacts:
            key = artifact_key(artifact, results_dir)
            if key is None:
                raise InputError(f"{artifact}: not under the results folder {results_dir}")
            if key not in records:
                problems.append(f"{artifact}: no provenance record (not made through rule_step?)")
            elif records[key]["sha256"] != sha256_path(artifact):
                problems.append(f"{artifact}: changed after its rule recorded it")
        if problems:
            raise InputError(f"{manifest_path(results_dir)}: " + "; ".join(problems))
