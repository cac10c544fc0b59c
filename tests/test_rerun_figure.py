"""Editing one figure's style parameter reruns that figure (and the provenance check after it),
nothing upstream and no other figure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from small_workflow import SMALL_CONFIGFILES, git, planned_jobs, repo_copy, small

from oeseg.io import read_json
from oeseg.provenance import audit_report


def outputs(root: Path) -> dict[str, int]:
    """mtime (ns) of every file the workflow made."""
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for folder in ("results", "work") for p in (root / folder).rglob("*")
            if p.is_file() and "/logs/" not in p.as_posix() and not p.name.startswith(".")}


@pytest.mark.parametrize("figure_rule, figure", [("small_figure", "fig1")])
def test_editing_a_figure_style_reruns_only_that_figure(tmp_path, figure_rule, figure):
    root = repo_copy(tmp_path / "repo")
    done = small(root, "--cores", "2", "all")
    assert done.returncode == 0, done.stderr[-3000:]
    before = outputs(root)
    # the two layered config files: the run's config
    assert audit_report(root / "results", root, SMALL_CONFIGFILES).problems == []
    # each record names them, in the order Snakemake layered them (small.smk's `configfile:` first)
    records = read_json(root / "results" / "provenance.json")["artifacts"]
    assert {tuple(f["path"] for f in r["config_files"]) for r in records.values()} == {tuple(SMALL_CONFIGFILES)}
    recorded = audit_report(root / "results", root, use_recorded=True)
    assert recorded.problems == [] and recorded.config.startswith("config.yaml + small.yaml, named by the records")

    config = (root / "small.yaml").read_text()
    (root / "small.yaml").write_text(config.replace("color: [200, 30, 30]", "color: [0, 0, 0]"))
    git(root, "commit", "-qam", f"{figure}: new colour")

    # (snakemake 9.27's --list-changes params lists every output: the dry run's plan is used)
    dry = small(root, "-n", "all")
    log = dry.stdout + dry.stderr
    assert dry.returncode == 0, log[-3000:]
    assert planned_jobs(log) == {figure_rule: 1, "provenance": 1, "all": 1}
    assert re.search(rf"output: results/figures/{figure}.png\n(.*\n)*?\s+reason: Params have "
                     "changed since last execution", log)

    done = small(root, "--cores", "2", "all")
    assert done.returncode == 0, done.stderr[-3000:]
    after = outputs(root)
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {f"results/figures/{figure}.png", "results/provenance.json"}
    record = read_json(root / "results" / "provenance.json")["artifacts"][f"figures/{figure}.png"]
    assert record["params"]["style"]["color"] == [0, 0, 0]
    # the artifacts not rebuilt were made with the config before the edit; audit says so (the edited
    # config file is config, not code: the code is the same)
    problems = audit_report(root / "results", root, SMALL_CONFIGFILES).problems
    assert {(Path(p.path).relative_to(root).as_posix(), p.kind) for p in problems} == {
        (name, "different config") for name in before if name.startswith("results/") and name not in changed}
    assert all("config.yaml + small.yaml now gives" in p.detail and "; small.yaml changed since it was made" in p.detail
               for p in problems if p.kind == "different config")
