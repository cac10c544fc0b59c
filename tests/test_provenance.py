"""Provenance: records made by rule_step, secrets scrubbed, concurrent jobs, and `oeseg audit`."""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from snakemake.iocontainers import Namedlist

from oeseg.cli import main
from oeseg.io import InputError, sha256_file
from oeseg.models.train import TrainingStopped
from oeseg.provenance import finalize_manifest, load_manifest, record_rule, scrub
from oeseg.provenance.record import (
    CONFIG_FILES_ENV,
    code_state,
    config_sha256,
    export_config_files,
    layered_config_files,
    package_versions,
)
from oeseg.workflow import CPU_KERNEL_PINS, read_cpuinfo, rule_step

SECRET = "sk-test-0123456789abcdef"
CONFIG = {"out": "work", "results": "results", "lexicon": {"openai": {"api_key_env": "X"}}, "seed": 0,
          "methods": {}, "mapping": {"template": "There is a {}."}}
# the repository's config.yaml leaves `seed` to the config schema's default and the `mapping`
# section to its own schema's (oeseg.workflow.check_config), as the workflow sees them
CONFIG_YAML = "out: work\nresults: results\nlexicon: {openai: {api_key_env: X}}\nmethods: {}\n"
MAPPING_SCHEMA_YAML = ('$schema: "https://json-schema.org/draft/2020-12/schema"\n'
                       "type: object\nproperties: {template: {type: string, default: 'There is a {}.'}}\n")
SCHEMA_YAML = ('$schema: "https://json-schema.org/draft/2020-12/schema"\n'
               "type: object\nrequired: [out, results]\n"
               "properties: {out: {type: string}, results: {type: string}, lexicon: {type: object},\n"
               "             seed: {type: integer, default: 0}, methods: {type: object},\n"
               "             mapping: {$ref: mapping.schema.yaml}}\n")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def fake_snakemake(rule: str, inputs: list[str], outputs: list[str], params: dict | None = None,
                   config: dict | None = None, log: str | None = None) -> SimpleNamespace:
    """What Snakemake hands a script: named lists of input/output/params/wildcards, log, config."""
    return SimpleNamespace(rule=rule, input=Namedlist(inputs), output=Namedlist(outputs),
                           params=Namedlist(fromdict=params or {}),
                           wildcards=Namedlist(fromdict={"fig": "fig1"}),
                           log=Namedlist([log] if log else []), config=config or CONFIG)


def given_config_files(monkeypatch, *paths: str | Path) -> None:
    """Hand the jobs `paths` as the run's config files, as rules/common.smk does for a workflow run."""
    environ: dict[str, str] = {}
    export_config_files(paths, environ)
    monkeypatch.setenv(CONFIG_FILES_ENV, environ[CONFIG_FILES_ENV])


def make_table(snakemake: SimpleNamespace) -> None:
    """A fake rule body: the output is the upper-cased input."""
    with rule_step(snakemake):
        for out in snakemake.output:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(Path(snakemake.input[0]).read_text().upper())


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A tiny committed git repo (code + an input), after one fake rule made two tracked artifacts."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "code.py").write_text("print('v1')\n")
    (root / ".gitignore").write_text("work/\n")
    (root / "config.yaml").write_text(CONFIG_YAML)
    (root / "schemas").mkdir()
    (root / "schemas" / "config.schema.yaml").write_text(SCHEMA_YAML)
    (root / "schemas" / "mapping.schema.yaml").write_text(MAPPING_SCHEMA_YAML)
    (root / "work").mkdir()
    (root / "work" / "scores.txt").write_text("pq 41.2\n")
    git(root, "init", "-q")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "init", "--allow-empty")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    for name in CPU_KERNEL_PINS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    given_config_files(monkeypatch, "config.yaml")
    make_table(fake_snakemake(
        "table1", ["work/scores.txt"], ["results/table1.csv", "work/not-tracked.csv"],
        params={"style": {"dpi": 100}, "api_key": SECRET, "prompt": f"use {SECRET} please"},
        log="work/table1.log"))
    make_table(fake_snakemake("fig1", ["work/scores.txt"], ["results/figures/fig1.png"]))
    return root


def test_rule_step_records_every_field_of_each_tracked_artifact(repo):
    manifest = load_manifest(repo / "results" / "provenance.json")
    assert sorted(manifest["artifacts"]) == ["figures/fig1.png", "table1.csv"]  # not work/...
    entry = manifest["artifacts"]["table1.csv"]
    assert entry["sha256"] == sha256_file(repo / "results" / "table1.csv")
    assert entry["rule"] == "table1"
    assert entry["inputs"] == {"work/scores.txt": sha256_file(repo / "work" / "scores.txt")}
    assert entry["params"]["style"] == {"dpi": 100}
    assert entry["wildcards"] == {"fig": "fig1"}
    assert len(entry["config_sha256"]) == 64
    assert entry["config_files"] == [{"path": "config.yaml", "sha256": sha256_file(repo / "config.yaml")}]
    assert entry["code"] == {"commit": git(repo, "rev-parse", "HEAD").strip(), "dirty": False,
                             "dirty_files": []}
    assert entry["packages"]["python"].startswith("3.")
    assert "snakemake" in entry["packages"] and "oeseg" in entry["packages"]
    assert entry["cpu_kernels"] == {"ATEN_CPU_CAPABILITY": "avx2"}
    assert entry["cpu"] == {key: read_cpuinfo()[field] for key, field in (("vendor", "vendor_id"),
                                                                          ("model", "model name"))}
    assert entry["created"].endswith("+00:00")
    assert "provenance recorded for table1.csv" in (repo / "work" / "table1.log").read_text()


def test_package_versions_name_no_standard_library_module_as_a_package():
    """`typing` is Python's, even where PyPI's old backport of that name is installed."""
    import importlib.metadata
    import sys
    import typing  # noqa: F401  (imported here, as by every job)

    versions = package_versions()
    assert "typing" in sys.modules and "typing" not in versions
    assert versions["pytest"] == importlib.metadata.version("pytest")


def test_no_secret_is_ever_written(repo):
    text = (repo / "results" / "provenance.json").read_text()
    assert SECRET not in text
    entry = json.loads(text)["artifacts"]["table1.csv"]
    assert entry["params"]["api_key"] == "<redacted>"
    assert entry["params"]["prompt"] == "use <redacted> please"
    nested = scrub({"openai": {"Token": "t0k3n-value", "model": "gpt-4"}, "auth_password": "pw"})
    assert nested == {"openai": {"Token": "<redacted>", "model": "gpt-4"},
                      "auth_password": "<redacted>"}
    urls = scrub({"url": "https://alice:hunter22@host/x.zip?token=abc123", "plain": "https://host/x.zip",
                  "command": "fetch 'https://host/a?sig=s3cr3t' -o out"}, secret_values=[])
    assert urls == {"url": "https://host/x.zip?token=***", "plain": "https://host/x.zip",
                    "command": "fetch 'https://host/a?sig=***' -o out"}


def test_a_password_that_breaks_its_url_is_still_never_written():
    """A quote, "#", "?" or "/" left unencoded in a password: no part of it is kept, and no error."""
    urls = scrub([f"https://alice:{pw}@host/v1" for pw in ("pa'ss22", "pa#ss22", "pa?ss22", "pa/ss22")],
                 secret_values=[])
    assert urls == ["https://host/v1", "https://host/v1", "https://host/v1", "https://<redacted>"]


def test_the_key_of_the_variable_the_config_names_is_never_written(repo, monkeypatch):
    """lexicon.openai.api_key_env may name a variable not named like a key (here X)."""
    monkeypatch.setenv("X", "llm-endpoint-secret-42")
    make_table(fake_snakemake("fig1", ["work/scores.txt"], ["results/figures/fig1.png"],
                              params={"prompt": "ask with llm-endpoint-secret-42"}))
    text = (repo / "results" / "provenance.json").read_text()
    assert "llm-endpoint-secret-42" not in text
    assert json.loads(text)["artifacts"]["figures/fig1.png"]["params"]["prompt"] == "ask with <redacted>"


def test_a_failed_rule_records_nothing(repo):
    before = (repo / "results" / "provenance.json").read_text()
    snakemake = fake_snakemake("fig2", ["work/scores.txt"], ["results/figures/fig2.png"])
    with pytest.raises(RuntimeError), rule_step(snakemake):
        Path("results/figures/fig2.png").write_text("half-written")
        raise RuntimeError("boom")
    assert (repo / "results" / "provenance.json").read_text() == before


@pytest.mark.parametrize("error, line", [
    (InputError("work/scores.txt:3: 'score' must be a number"),
     "ERROR oeseg: rule fig2: error: work/scores.txt:3: 'score' must be a number"),
    (TrainingStopped("stage 3: stopped by SIGTERM at step 2/4 (checkpoint in c)"),
     "WARNING oeseg: rule fig2: stage 3: stopped by SIGTERM at step 2/4 (checkpoint in c)"),
], ids=["bad-input", "stopped"])
def test_bad_input_or_a_stop_ends_the_job_with_its_message_alone(repo, capsys, error, line):
    """An InputError in a rule's body, or a stage stopped by SIGTERM once its checkpoint is saved:
    its message in the log and on stderr, no traceback, exit status 1 (Snakemake reports the failed
    job), nothing recorded."""
    before = (repo / "results" / "provenance.json").read_text()
    snakemake = fake_snakemake("fig2", ["work/scores.txt"], ["results/figures/fig2.png"], log="fig2.log")
    with pytest.raises(SystemExit) as stop, rule_step(snakemake):
        raise error
    assert stop.value.code == 1
    logged = Path("fig2.log").read_text()
    assert logged.rstrip().endswith(line)
    assert "Traceback" not in logged and "Traceback" not in capsys.readouterr().err
    assert (repo / "results" / "provenance.json").read_text() == before


def test_a_command_run_in_a_rule_keeps_all_its_output_in_the_rule_log(repo):
    """The rule's logger and a command it runs (`run_logged`) both append to the rule's log, which
    is emptied once: no line of the command's is overwritten by the logger's later lines."""
    from oeseg.workflow import run_logged

    Path("ext.log").write_text("a previous run's log\n" * 50)
    snakemake = fake_snakemake("ext", [], [], log="ext.log")
    with rule_step(snakemake) as logger:
        logger.info("before the command")
        status, printed = run_logged(["bash", "-c", "for i in 1 2 3 4 5; do echo command line $i; done; echo to stderr >&2"],
                                     "ext.log")
        logger.info("after the command")
    assert status == 0 and printed.splitlines()[0] == "command line 1"
    lines = [line.split(": ", 1)[-1] if " oeseg: " in line else line for line in Path("ext.log").read_text().splitlines()]
    assert lines == ["before the command", *(f"command line {i}" for i in range(1, 6)), "to stderr", "after the command"]


def _record_many(worker: int, root: str, barrier) -> None:
    import os
    os.chdir(root)
    barrier.wait()
    for i in range(3):
        make_table(fake_snakemake(f"w{worker}", ["work/scores.txt"],
                                  [f"results/figures/w{worker}-{i}.png"]))


def test_jobs_finishing_at_once_lose_no_record(repo):
    workers = 8
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_record_many, args=(w, str(repo), barrier)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * workers
    artifacts = load_manifest(repo / "results" / "provenance.json")["artifacts"]
    expected = {f"figures/w{w}-{i}.png" for w in range(workers) for i in range(3)}
    assert expected <= set(artifacts)
    assert len(artifacts) == len(expected) + 2
    assert not list((repo / "results").glob(".provenance.json.*"))  # no temporary left behind


@pytest.fixture(autouse=True)
def audit_command_only(monkeypatch):
    """`oeseg` with only the audit sub-command (other stages' commands live on other branches)."""
    monkeypatch.setattr("oeseg.cli.COMMANDS", {"audit": "oeseg.provenance.command"})


def run_audit(root: Path, capsys, *options: str) -> tuple[int, list[str]]:
    """Exit code and the problem lines of `oeseg audit` (the report without its summary)."""
    code, lines = run_audit_report(root, capsys, *options)
    start = next(i for i, line in enumerate(lines) if line.startswith("problems:"))
    end = next((i for i, line in enumerate(lines) if line.startswith("inputs not present")), len(lines))
    return code, lines[start + 1:end]


def run_audit_report(root: Path, capsys, *options: str) -> tuple[int, list[str]]:
    """Exit code and every line of `oeseg audit` run on the repository `root`."""
    code = main(["audit", str(root / "results"), "--workdir", str(root), *options])
    return code, capsys.readouterr().out.splitlines()


def test_audit_of_untouched_results_passes(repo, capsys):
    code, lines = run_audit_report(repo, capsys)
    commit = git(repo, "rev-parse", "HEAD")[:12]
    assert code == 0
    assert lines[:6] == [
        f"audit of {repo}/results: OK",
        "  artifacts: 2 (2 verified, 0 changed, 0 missing, 0 untracked)",
        "  inputs: 1 (1 verified, 0 changed, 0 not present)",
        f"  config: config.yaml, named by the records (sha256 {config_sha256(CONFIG)[:12]}): 2 of 2 records "
        "made with it",
        f"  code: commit {commit} (clean): 2 of 2 records made by the same code",
        "problems: none"]
    assert len(lines) == 6


def fresh_clone(repo: Path, tmp_path: Path) -> Path:
    """A clone of the repository with its results committed: no work/ (the intermediates)."""
    git(repo, "add", "results")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / "work").exists()
    return clone


def test_a_fresh_clone_verifies_what_it_has_and_lists_inputs_not_present(repo, tmp_path, capsys):
    clone = fresh_clone(repo, tmp_path)
    code, lines = run_audit_report(clone, capsys)
    assert code == 0
    assert lines[0] == f"audit of {clone}/results: OK"
    assert lines[1] == "  artifacts: 2 (2 verified, 0 changed, 0 missing, 0 untracked)"
    assert lines[2] == "  inputs: 1 (0 verified, 0 changed, 1 not present)"
    assert "2 of 2 records made with it" in lines[3] and "2 of 2 records made by the same" in lines[4]
    assert lines[5:] == ["problems: none",
                         "inputs not present (not checked; --strict requires them): 1",
                         "  work/scores.txt"]
    code, problems = run_audit(clone, capsys, "--strict")
    assert (code, problems) == (1, [(f"{clone}/work/scores.txt: missing input: not present "
                                    "(--strict requires every input)")])


def test_another_configs_results_inside_are_left_to_their_own_audit(repo, capsys):
    """configs/paper.yaml writes results/paper (its own manifest) inside the demo's results/."""
    nested = repo / "results" / "paper"
    (nested / "paper_study").mkdir(parents=True)
    (nested / "paper_study" / "fig1.png").write_bytes(b"not the demo's")
    (nested / "provenance.json").write_text('{"artifacts": {}}')
    code, lines = run_audit_report(repo, capsys)
    assert code == 0 and lines[0].endswith(": OK")
    assert "  other results folders inside (their own manifest; audit them on their own): paper" in lines
    (repo / "results" / "stray.png").write_bytes(b"x")  # a file of no manifest still counts
    assert run_audit(repo, capsys)[1] == [f"{repo}/results/stray.png: untracked artifact: missing record: no "
                                          "entry in the provenance manifest"]


def test_a_shallow_clone_leaves_the_code_it_lacks_unchecked(repo, tmp_path, capsys):
    """The records name the commit before the one that commits results/: a `--depth 1` clone lacks it."""
    fresh_clone(repo, tmp_path)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    made_by = git(repo, "rev-parse", "HEAD~1")[:12]
    code, lines = run_audit_report(shallow, capsys)
    assert code == 0 and lines[0] == f"audit of {shallow}/results: OK"
    assert lines[4].endswith(f"0 of 2 records made by the same code; made by {made_by}, which this clone "
                             "lacks: not checked (git fetch --unshallow)")
    code, problems = run_audit(shallow, capsys, "--strict")
    assert code == 1 and [p for p in problems if "code not checked" in p] == [
        f"{shallow}/results/{key}: code not checked: made by commit {made_by}, which this clone lacks "
        "(git fetch --unshallow)" for key in ("figures/fig1.png", "table1.csv")]


def test_a_source_archive_without_git_leaves_the_code_unchecked(repo, tmp_path, capsys, monkeypatch):
    """A release archive (`git archive`, a download without .git) has no commit to compare the records'
    with: its code is not checked (a problem only under --strict), never `different code`."""
    fresh_clone(repo, tmp_path)
    archive = tmp_path / "archive"
    archive.mkdir()
    tar = subprocess.run(["git", "archive", "HEAD"], cwd=repo, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(archive)], input=tar, check=True)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above it either
    made_by = git(repo, "rev-parse", "HEAD~1")[:12]
    code, lines = run_audit_report(archive, capsys)
    assert code == 0 and lines[0] == f"audit of {archive}/results: OK", lines
    assert lines[4] == f"  code: not checked: {archive} is not a git checkout (records made by {made_by})"
    code, problems = run_audit(archive, capsys, "--strict")
    assert code == 1 and [p for p in problems if "code" in p] == [
        f"{archive}/results/{key}: code not checked: made by commit {made_by}, and {archive} is not a git "
        "checkout" for key in ("figures/fig1.png", "table1.csv")]


def test_a_source_archive_inside_another_repository_is_no_checkout_of_it(repo, tmp_path, capsys):
    """A release archive unpacked inside some other git repository (a folder of a monorepo, a clone of
    the project itself) holds no file that repository tracks: its code is not checked against that
    repository's commit, in the audit as in the records a run there makes."""
    fresh_clone(repo, tmp_path)
    archive = repo / "unpacked"
    archive.mkdir()
    tar = subprocess.run(["git", "archive", "HEAD"], cwd=repo, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(archive)], input=tar, check=True)
    made_by = git(repo, "rev-parse", "HEAD~1")[:12]
    code, lines = run_audit_report(archive, capsys)
    assert code == 0 and lines[4] == f"  code: not checked: {archive} is not a git checkout (records made by {made_by})"
    assert code_state(archive, archive / "results") == {"commit": None, "dirty": None, "dirty_files": []}
    assert code_state(repo, repo / "results")["commit"] == git(repo, "rev-parse", "HEAD").strip()


def test_a_layered_config_file_is_config_not_code(repo, capsys, monkeypatch):
    """A tracked config file given after config.yaml (`--configfile config.yaml site.yaml`) is audited by
    the config it gives, as config.yaml is: editing its comments, committed or not, changes no code."""
    (repo / "site").mkdir()
    (repo / "site" / "cluster.yaml").write_text("seed: 3\n")
    git(repo, "add", "site")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a site config")
    given_config_files(monkeypatch, "config.yaml", "site/cluster.yaml")
    config = {**CONFIG, "seed": 3}
    make_table(fake_snakemake("table1", ["work/scores.txt"], ["results/table1.csv"], config=config))
    make_table(fake_snakemake("fig1", ["work/scores.txt"], ["results/figures/fig1.png"], config=config))
    (repo / "site" / "cluster.yaml").write_text("# the cluster of the lab\nseed: 3\n")
    assert code_state(repo, repo / "results", ["config.yaml", "site/cluster.yaml"])["dirty"] is False
    code, report = run_audit_report(repo, capsys, "--configfile", "config.yaml", "site/cluster.yaml")
    assert code == 0 and report[4].endswith("(clean): 2 of 2 records made by the same code"), report
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "a comment")
    assert run_audit(repo, capsys, "--configfile", "config.yaml", "site/cluster.yaml") == (0, [])
    (repo / "site" / "cluster.yaml").write_text("seed: 4\n")  # a value: a different config, no code
    code, lines = run_audit(repo, capsys, "--configfile", "config.yaml", "site/cluster.yaml")
    assert code == 1 and {line.split(": ")[1] for line in lines} == {"different config"}


def test_links_under_the_results_folder_are_untracked_artifacts(repo, capsys):
    """A link is an entry of the results folder like a file: a broken one and one to a folder too."""
    (repo / "results" / "broken").symlink_to(repo / "no-such-file")
    (repo / "results" / "folder").symlink_to(repo / "src")
    code, lines = run_audit(repo, capsys)
    assert code == 1 and lines == [f"{repo}/results/{name}: untracked artifact: missing record: no entry in the "
                                   "provenance manifest" for name in ("broken", "folder")]


def test_a_fresh_clone_still_fails_on_changed_missing_or_untracked_artifacts(repo, tmp_path, capsys):
    clone = fresh_clone(repo, tmp_path)
    (clone / "results" / "table1.csv").write_text("PQ 99.9\n")
    (clone / "results" / "figures" / "fig1.png").unlink()
    (clone / "results" / "figures" / ".fig9.png").write_text("a hidden file")
    code, lines = run_audit_report(clone, capsys)
    assert code == 1
    assert lines[:3] == [f"audit of {clone}/results: FAILED",
                         "  artifacts: 3 (0 verified, 1 changed, 1 missing, 1 untracked)",
                         "  inputs: 1 (0 verified, 0 changed, 1 not present)"]
    assert run_audit(clone, capsys)[1] == [
        (f"{clone}/results/figures/.fig9.png: untracked artifact: missing record: no entry in the "
        "provenance manifest"),
        f"{clone}/results/figures/fig1.png: missing artifact: recorded (rule fig1) but not found",
        (f"{clone}/results/table1.csv: changed artifact: sha256 differs from the record made by rule "
        "table1")]


def test_audit_finds_a_changed_config(repo, capsys):
    made_with = sha256_file(repo / "config.yaml")
    (repo / "config.yaml").write_text(CONFIG_YAML + "seed: 1\n")
    code, lines = run_audit(repo, capsys)
    assert code == 1
    assert [line for line in lines if "different config" in line] == [f"{repo}/results/{key}: different config: made with config sha256 "
                          f"{config_sha256(CONFIG)[:12]}, config.yaml now gives "
                          f"{config_sha256({**CONFIG, 'seed': 1})[:12]}; config.yaml changed since it was "
                          f"made (sha256 {made_with[:12]} then, {sha256_file(repo / 'config.yaml')[:12]} now)"
                          for key in ("figures/fig1.png", "table1.csv")]
    (repo / "config.yaml").write_text("seed: [1\n")
    assert main(["audit", str(repo / "results"), "--workdir", str(repo)]) == 2
    assert "config.yaml:2:1: not valid YAML: expected ',' or ']'" in capsys.readouterr().err
    (repo / "config.yaml").write_text("out: work\n")  # `results` is required by the schema
    assert main(["audit", str(repo / "results"), "--workdir", str(repo)]) == 2
    assert "config.yaml: does not match" in capsys.readouterr().err
    # a config named on purpose must exist (a typo is no "not checked"); the default may be absent
    assert main(["audit", str(repo / "results"), "--workdir", str(repo), "--configfile", "configs/paper.yml"]) == 2
    assert f"--configfile configs/paper.yml: no such file in {repo}" in capsys.readouterr().err
    # a results folder or working directory that does not exist is a typo (2), not a missing manifest (1)
    assert main(["audit", str(repo / "result"), "--workdir", str(repo)]) == 2
    assert f"{repo}/result: no such folder (the results folder)" in capsys.readouterr().err
    assert main(["audit", str(repo / "results"), "--workdir", str(repo / "nowhere")]) == 2
    assert f"{repo}/nowhere: no such folder (--workdir)" in capsys.readouterr().err
    # the manifest itself given as the results folder: a file, not "no such folder"
    assert main(["audit", str(repo / "results" / "provenance.json"), "--workdir", str(repo)]) == 2
    assert f"{repo}/results/provenance.json: a file, not a folder (the results folder)" in capsys.readouterr().err
    (repo / "config.yaml").unlink()
    code, report = run_audit_report(repo, capsys)
    assert code == 0 and report[3] == "  config: config.yaml not present, named by the records (not checked)"
    code, problems = run_audit(repo, capsys, "--strict")
    assert (code, problems) == (1, [f"{repo}/config.yaml: missing config: not present (--strict requires it)"])


def test_layered_config_files_audit_as_the_config_they_merge_into(repo, capsys):
    """`--configfile base overlay`, as Snakemake layers them: later files override earlier ones,
    nested mappings are merged key by key (the overlay's empty `openai` keeps the base's key)."""
    (repo / "base.yaml").write_text("out: elsewhere\nresults: results\nlexicon: {openai: {api_key_env: X}}\nmethods: {}\n")
    (repo / "overlay.yaml").write_text("out: work\nlexicon: {openai: {}}\n")
    code, lines = run_audit_report(repo, capsys, "--configfile", "base.yaml", "overlay.yaml")
    assert code == 0, lines
    assert lines[3] == (f"  config: base.yaml + overlay.yaml (sha256 {config_sha256(CONFIG)[:12]}): "
                        "2 of 2 records made with it")
    code, problems = run_audit(repo, capsys, "--configfile", "overlay.yaml", "base.yaml")  # `out: elsewhere` wins
    assert code == 1 and len(problems) == 2
    assert all("different config" in p and "overlay.yaml + base.yaml now gives" in p for p in problems)
    (repo / "overlay.yaml").write_text("- a list\n")
    assert main(["audit", str(repo / "results"), "--workdir", str(repo), "--configfile", "base.yaml",
                 "overlay.yaml"]) == 2
    assert "overlay.yaml: not a mapping of config keys" in capsys.readouterr().err


def remake_artifacts(monkeypatch, config: dict, *configfiles: str, keys: tuple[str, ...] = ("table1", "fig1")) -> None:
    """Remake the repository's artifacts (those of the rules `keys`) in a run given `configfiles`,
    whose effective config is `config`."""
    given_config_files(monkeypatch, *configfiles)
    outputs = {"table1": "results/table1.csv", "fig1": "results/figures/fig1.png"}
    for rule in keys:
        make_table(fake_snakemake(rule, ["work/scores.txt"], [outputs[rule]], config=config))


def test_audit_without_configfile_checks_the_config_files_the_records_name(repo, capsys, monkeypatch):
    """The paper's config in configs/: `oeseg audit` needs no --configfile; one given still wins."""
    (repo / "configs").mkdir()
    (repo / "configs" / "paper.yaml").write_text(CONFIG_YAML + "seed: 3\n")
    paper = {**CONFIG, "seed": 3}
    remake_artifacts(monkeypatch, paper, "configs/paper.yaml")
    code, lines = run_audit_report(repo, capsys)
    assert code == 0, lines
    assert lines[3] == (f"  config: configs/paper.yaml, named by the records (sha256 {config_sha256(paper)[:12]}): "
                        "2 of 2 records made with it")
    code, problems = run_audit(repo, capsys, "--configfile", "config.yaml")  # the user's choice wins
    assert code == 1 and problems == [
        f"{repo}/results/{key}: different config: made with config sha256 {config_sha256(paper)[:12]}, "
        f"config.yaml now gives {config_sha256(CONFIG)[:12]}" for key in ("figures/fig1.png", "table1.csv")]
    # records that name different config files: the default config.yaml, and the report names them all
    remake_artifacts(monkeypatch, CONFIG, "config.yaml", keys=("fig1",))
    code, lines = run_audit_report(repo, capsys)
    assert code == 1
    assert lines[3] == (f"  config: config.yaml (sha256 {config_sha256(CONFIG)[:12]}): 1 of 2 records made "
                        "with it; the records name different config files: config.yaml (1 record), "
                        "configs/paper.yaml (1 record)")
    assert run_audit(repo, capsys)[1] == [
        f"{repo}/results/table1.csv: different config: made with config sha256 {config_sha256(paper)[:12]}, "
        f"config.yaml now gives {config_sha256(CONFIG)[:12]}"]


def test_records_made_before_config_files_were_recorded_audit_as_before(repo, capsys):
    """results/ made by an older version: no `config_files` in its records; config.yaml is checked."""
    path = repo / "results" / "provenance.json"
    manifest = json.loads(path.read_text())
    for record in manifest["artifacts"].values():
        del record["config_files"]
    path.write_text(json.dumps(manifest))
    code, lines = run_audit_report(repo, capsys)
    assert code == 0 and lines[3] == (f"  config: config.yaml (sha256 {config_sha256(CONFIG)[:12]}): 2 of 2 "
                                      "records made with it")
    (repo / "config.yaml").write_text(CONFIG_YAML + "seed: 1\n")
    code, problems = run_audit(repo, capsys)
    assert code == 1 and all(p.endswith(f"config.yaml now gives {config_sha256({**CONFIG, 'seed': 1})[:12]}")
                             for p in problems) and len(problems) == 2


def test_a_config_file_edited_without_changing_the_config_is_named_but_no_problem(repo, capsys):
    """A comment changes the file's sha256, not the config it gives: the summary names the file."""
    (repo / "config.yaml").write_text(CONFIG_YAML + "# a comment\n")
    code, lines = run_audit_report(repo, capsys)
    assert code == 0, lines
    assert lines[3].endswith("2 of 2 records made with it; config.yaml changed since 2 of them were made, the "
                             "config they give did not")


def test_config_files_are_recorded_relative_to_the_working_directory_in_order(repo, tmp_path):
    """Under the working directory relative (however given), elsewhere as given; the content never."""
    (tmp_path / "site.yaml").write_text("out: work\n")
    environ: dict[str, str] = {}
    entries = export_config_files([repo / "config.yaml", tmp_path / "site.yaml", "src/../config.yaml"], environ)
    assert entries == [{"path": "config.yaml", "sha256": sha256_file(repo / "config.yaml")},
                       {"path": str(tmp_path / "site.yaml"), "sha256": sha256_file(tmp_path / "site.yaml")},
                       {"path": "config.yaml", "sha256": sha256_file(repo / "config.yaml")}]
    assert json.loads(environ[CONFIG_FILES_ENV]) == entries


@pytest.mark.parametrize("given, directives, replace, layered", [
    ([], ["config.yaml"], False, ["config.yaml"]),                               # the Snakefile's default
    (["/w/a.yaml", "/w/b.yaml"], [], False, ["/w/a.yaml", "/w/b.yaml"]),         # --configfile a.yaml b.yaml
    (["/w/a.yaml"], ["base.yaml"], False, ["base.yaml", "/w/a.yaml"]),           # layered over the directive's
    (["/w/a.yaml"], ["base.yaml"], True, ["/w/a.yaml"]),                         # --replace-workflow-config
    (["/w/config.yaml", "/w/b.yaml"], ["config.yaml"], False, ["/w/config.yaml", "/w/b.yaml"]),  # counted once
])
def test_config_files_are_listed_in_the_order_snakemake_layers_them(monkeypatch, given, directives, replace,
                                                                     layered):
    monkeypatch.chdir("/")
    workflow = SimpleNamespace(configfiles=[*given, *(f"w/{d}" for d in directives)],
                               config_settings=SimpleNamespace(configfiles=given, replace_workflow_config=replace))
    assert layered_config_files(workflow) == [f if f.startswith("/") else f"w/{f}" for f in layered]


def test_a_malformed_config_files_variable_is_an_input_error(repo, monkeypatch):
    monkeypatch.setenv(CONFIG_FILES_ENV, '[{"path": "config.yaml", "sha256": null}]')
    with pytest.raises(InputError, match=rf"environment variable {CONFIG_FILES_ENV}\[0\].sha256: must be a "
                                         "string, got NoneType"):
        record_rule(fake_snakemake("fig1", ["work/scores.txt"], ["results/figures/fig1.png"]))
    monkeypatch.setenv(CONFIG_FILES_ENV, "config.yaml")
    with pytest.raises(InputError, match=rf"environment variable {CONFIG_FILES_ENV}: not JSON"):
        record_rule(fake_snakemake("fig1", ["work/scores.txt"], ["results/figures/fig1.png"]))


def tampered_copy(repo: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(repo, copy)
    return copy


def test_audit_finds_a_changed_artifact(repo, tmp_path, capsys):
    copy = tampered_copy(repo, tmp_path, "changed-artifact")
    (copy / "results" / "table1.csv").write_text("PQ 99.9\n")
    code, lines = run_audit(copy, capsys)
    assert code == 1
    assert lines == [(f"{copy}/results/table1.csv: changed artifact: sha256 differs from the "
                     "record made by rule table1")]


def test_audit_finds_a_changed_input(repo, tmp_path, capsys):
    copy = tampered_copy(repo, tmp_path, "changed-input")
    (copy / "work" / "scores.txt").write_text("pq 12.0\n")
    code, lines = run_audit(copy, capsys)
    assert code == 1
    assert sorted(lines) == [
        (f"{copy}/results/figures/fig1.png: changed input: work/scores.txt differs from the "
        "version it was made from"),
        (f"{copy}/results/table1.csv: changed input: work/scores.txt differs from the version it "
        "was made from")]


def test_audit_finds_missing_records_and_missing_artifacts(repo, tmp_path, capsys):
    copy = tampered_copy(repo, tmp_path, "records")
    (copy / "results" / "figures" / "fig9.png").write_text("made by hand")
    (copy / "results" / "figures" / "fig1.png").unlink()
    code, lines = run_audit(copy, capsys)
    assert code == 1
    assert lines == [
        (f"{copy}/results/figures/fig9.png: untracked artifact: missing record: no entry in the "
        "provenance manifest"),
        f"{copy}/results/figures/fig1.png: missing artifact: recorded (rule fig1) but not found"]
    (copy / "results" / "provenance.json").unlink()
    code, lines = run_audit(copy, capsys)
    assert (code, lines) == (1, [(f"{copy}/results/provenance.json: missing manifest: "
                                 "no provenance manifest")])


def test_audit_finds_dirty_and_different_code(repo, tmp_path, capsys):
    copy = tampered_copy(repo, tmp_path, "code")
    recorded = git(copy, "rev-parse", "HEAD").strip()
    (copy / "src" / "code.py").write_text("print('v2')\n")
    (copy / "schemas" / "config.schema.yaml").write_text(SCHEMA_YAML + "# a comment\n")
    code, lines = run_audit(copy, capsys)
    assert (code, lines) == (1, [(f"{copy}: dirty code: uncommitted changes to tracked files: "
                                 "schemas/config.schema.yaml, src/code.py")])
    (copy / "schemas" / "config.schema.yaml").write_text(SCHEMA_YAML)
    git(copy, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "v2")
    now = git(copy, "rev-parse", "HEAD").strip()
    code, report = run_audit_report(copy, capsys)
    assert code == 1
    assert report[4] == (f"  code: commit {now[:12]} (clean): 0 of 2 records made by the same code; 1 code file "
                         f"changed since {recorded[:12]}: src/code.py")
    assert run_audit(copy, capsys)[1] == [f"{copy}/results/{key}: different code: made by commit {recorded[:12]}, "
                                          f"code is now at {now[:12]} (1 code file changed since, named in the "
                                          "summary)" for key in ("figures/fig1.png", "table1.csv")]


def test_the_audit_names_every_changed_code_file_and_both_names_of_a_renamed_one(repo, capsys):
    git(repo, "add", "results")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results")
    recorded = git(repo, "rev-parse", "HEAD~1")[:12]
    names = [f"src/module{i}.py" for i in range(12)]
    for name in names:
        (repo / name).write_text("x = 1\n")
    git(repo, "add", "src")
    git(repo, "mv", "src/code.py", "src/renamed.py")
    dirty = run_audit_report(repo, capsys)[1]
    files = ", ".join(sorted([*names, "src/code.py", "src/renamed.py"]))
    assert dirty[4].endswith("(uncommitted changes in 14 code files): 2 of 2 records made by the same code")
    assert f"{repo}: dirty code: uncommitted changes to tracked files: {files}" in dirty
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "more code")
    code, report = run_audit_report(repo, capsys)
    assert code == 1 and report[4].endswith(f"14 code files changed since {recorded}: {files}")


def test_committing_the_results_themselves_is_not_a_code_change(repo, capsys):
    git(repo, "add", "results")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results")
    assert run_audit(repo, capsys)[0] == 0


def test_artifact_made_from_a_dirty_tree_is_flagged(repo, tmp_path, capsys, monkeypatch):
    copy = tampered_copy(repo, tmp_path, "dirty-made")
    monkeypatch.chdir(copy)
    (copy / "src" / "code.py").write_text("print('uncommitted')\n")
    make_table(fake_snakemake("fig1", ["work/scores.txt"], ["results/figures/fig1.png"]))
    (copy / "src" / "code.py").write_text("print('v1')\n")  # the tree is clean again
    code, report = run_audit_report(copy, capsys)
    assert code == 1
    assert report[4].endswith("1 of 2 records made by the same code")  # the dirty record is not counted
    entry = load_manifest(copy / "results" / "provenance.json")["artifacts"]["figures/fig1.png"]
    assert entry["code"]["dirty"] is True and entry["code"]["dirty_files"] == ["src/code.py"]
    code, lines = run_audit(copy, capsys)
    commit = git(copy, "rev-parse", "HEAD")[:12]
    assert lines == [(f"{copy}/results/figures/fig1.png: dirty code: made from a tree with "
                     f"uncommitted changes to src/code.py (commit {commit})")]
    manifest = json.loads((copy / "results" / "provenance.json").read_text())  # a record of an older oeseg
    del manifest["artifacts"]["figures/fig1.png"]["code"]["dirty_files"]
    (copy / "results" / "provenance.json").write_text(json.dumps(manifest))
    assert run_audit(copy, capsys)[1] == [(f"{copy}/results/figures/fig1.png: dirty code: made from a "
                                           f"tree with uncommitted changes (files not recorded) (commit {commit})")]


def test_results_folder_changes_do_not_make_the_tree_dirty(repo, capsys):
    git(repo, "add", "results")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results")
    (repo / "results" / "table1.csv").write_text("regenerated\n")
    make_table(fake_snakemake("fig1", ["work/scores.txt"], ["results/figures/fig1.png"]))
    entry = load_manifest(repo / "results" / "provenance.json")["artifacts"]["figures/fig1.png"]
    assert entry["code"]["dirty"] is False


def test_finalize_demands_a_current_record_for_every_tracked_artifact(repo):
    finalize_manifest("results", ["results/table1.csv", "results/figures/fig1.png"])
    (repo / "results" / "figures" / "fig1.png").write_text("edited after the rule")
    with pytest.raises(InputError, match="fig1.png: changed after its rule recorded it"):
        finalize_manifest("results", ["results/table1.csv", "results/figures/fig1.png"])
    (repo / "results" / "figures" / "fig1.png").unlink()
    with pytest.raises(InputError, match="fig1.png: no provenance record"):
        finalize_manifest("results", ["results/figures/fig1.png"])
    finalize_manifest("results", ["results/table1.csv"])  # drops the vanished fig1 record
    assert list(load_manifest("results/provenance.json")["artifacts"]) == ["table1.csv"]


def test_a_malformed_manifest_is_an_input_error(repo, capsys):
    (repo / "results" / "provenance.json").write_text('{"format": 1, "artifacts": {"a": {}}}')
    assert main(["audit", str(repo / "results")]) == 2
    assert "artifacts.a: missing field 'sha256'" in capsys.readouterr().err


@pytest.mark.parametrize("field, value, message", [
    ("inputs", [], r"artifacts.table1.csv.inputs: must be an object, got list"),
    ("code", "abc", r"artifacts.table1.csv.code: must be an object, got str"),
    ("sha256", 5, r"artifacts.table1.csv.sha256: must be a string, got int"),
    ("code", {"commit": "--help", "dirty": False}, r"artifacts.table1.csv.code.commit: must be a git commit id or "
                                                    r"null, got '--help'"),
    ("inputs", {"work/scores.txt": None}, r"artifacts.table1.csv.inputs: each input's value must be its sha256"),
    ("config_sha256", 7, r"artifacts.table1.csv.config_sha256: must be a string, got int"),
    ("code", {"commit": None, "dirty": True, "dirty_files": "src/code.py"},
     r"artifacts.table1.csv.code.dirty_files: must be a list of file names"),
    ("config_files", "config.yaml", r"artifacts.table1.csv.config_files: must be a list of \{path, sha256\} "
                                    r"objects, got str"),
    ("config_files", ["config.yaml"], r"artifacts.table1.csv.config_files\[0\]: must be an object"),
    ("config_files", [{"path": "config.yaml", "sha256": 5}],
     r"artifacts.table1.csv.config_files\[0\].sha256: must be a string, got int"),
])
def test_a_record_field_of_the_wrong_type_is_an_input_error(repo, capsys, field, value, message):
    """Not a traceback from inside the audit: the field named, exit 2."""
    path = repo / "results" / "provenance.json"
    manifest = json.loads(path.read_text())
    manifest["artifacts"]["table1.csv"][field] = value
    path.write_text(json.dumps(manifest))
    assert main(["audit", str(repo / "results")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err, err


def test_documentation_tests_and_config_comments_are_not_code(repo, capsys):
    git(repo, "add", "results")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results")
    (repo / "README.md").write_text("# a manual that changed\n")
    (repo / "tests").mkdir(exist_ok=True)
    (repo / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    (repo / "config.yaml").write_text(CONFIG_YAML + "# a comment: the effective config is unchanged\n")
    git(repo, "add", "README.md", "tests", "config.yaml")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "docs, tests, a config comment")
    assert run_audit(repo, capsys)[0] == 0
    (repo / "src" / "code.py").write_text("print('v2')\n")  # a code change still counts
    git(repo, "add", "src")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    code, report = run_audit_report(repo, capsys)
    assert code == 1 and report[4].endswith("1 code file changed since " + git(repo, "rev-parse", "HEAD~3")[:12]
                                            + ": src/code.py")


def test_report_captions_are_not_code(repo, capsys):
    """A caption of `snakemake --report` (report/*.rst) cannot change an artifact: editing one, committed
    or not, is neither dirty nor different code."""
    (repo / "report").mkdir()
    (repo / "report" / "fig1.rst").write_text("Figure 1.\n")
    git(repo, "add", "results", "report")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results, captions")
    (repo / "report" / "fig1.rst").write_text("Figure 1, captioned anew.\n")
    assert run_audit(repo, capsys)[0] == 0
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "caption")
    assert run_audit(repo, capsys)[0] == 0


def test_a_copy_of_the_results_outside_the_checkout_audits_like_the_results(repo, tmp_path, capsys):
    """The checkout's own results folder (committed after the run) is not code, also when the audited
    folder is a copy elsewhere (`oeseg audit COPY --workdir CHECKOUT`)."""
    git(repo, "add", "results")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results")
    copy = tmp_path / "published-results"
    shutil.copytree(repo / "results", copy)
    assert main(["audit", str(copy), "--workdir", str(repo)]) == 0, capsys.readouterr().out
    (repo / "src" / "code.py").write_text("print('v2')\n")  # a code change still counts
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "code")
    assert main(["audit", str(copy), "--workdir", str(repo)]) == 1
    assert "src/code.py" in capsys.readouterr().out


def test_rule_step_sets_torch_threads_to_the_rules_threads_when_asked(repo):
    import torch

    before = torch.get_num_threads()
    snakemake = fake_snakemake("train", [], [])
    snakemake.threads = 3
    try:
        with rule_step(snakemake):
            assert torch.get_num_threads() == before  # not asked: left as it is
        with rule_step(snakemake, torch_threads=True):
            assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
