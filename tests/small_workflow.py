"""A copy of this repository, as a committed git repo, with a small workflow beside the real one.

The small workflow (`small.smk`) uses the real rules/common.smk, rules/provenance.smk, profiles and
oeseg.workflow.rule_step around four tiny rules shaped like the real DAG's end: per-dataset scores
-> table1 and one rule per figure (a `style` parameter from config) -> provenance. The tests that
need only this shape run it; the ones that need the real DAG run the real Snakefile's `all`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

SMALL_SNAKEFILE = '''\
from pathlib import Path

from oeseg.workflow import check_config


configfile: "config.yaml"


check_config(config, Path(workflow.basedir) / "schemas")  # as the Snakefile does: defaults filled


include: "rules/common.smk"


TABLE1_FILES = [f"{RESULTS}/table1.csv"]
FIGURE_FILES = [f"{RESULTS}/figures/{fig}.png" for fig in config["small_figures"]]
HUMAN_STUDY_PAGE = f"{RESULTS}/human_study/annotation.html"


include: "rules/provenance.smk"


rule all:
    default_target: True
    input:
        TABLE1_FILES,
        FIGURE_FILES,
        HUMAN_STUDY_PAGE,
        PROVENANCE,


rule scores:
    output:
        f"{OUT}/scores/{{dataset}}.json",
    params:
        seed=lambda wc: config["datasets"][wc.dataset]["seed"],
    log:
        f"{LOGS}/scores/{{dataset}}.log",
    script:
        "small/scores.py"


rule table1:
    input:
        expand(f"{OUT}/scores/{{dataset}}.json", dataset=EVAL_DATASETS),
    output:
        TABLE1_FILES,
    log:
        f"{LOGS}/table1.log",
    script:
        "small/table1.py"


rule small_figure:
    input:
        expand(f"{OUT}/scores/{{dataset}}.json", dataset=EVAL_DATASETS),
    output:
        f"{RESULTS}/figures/{{fig}}.png",
    params:
        style=lambda wc: config["small_figures"][wc.fig],
    log:
        f"{LOGS}/figures/{{fig}}.log",
    script:
        "small/figure.py"


rule human_study:
    input:
        expand(f"{OUT}/scores/{{dataset}}.json", dataset=EVAL_DATASETS),
    output:
        HUMAN_STUDY_PAGE,
    log:
        f"{LOGS}/human_study.log",
    script:
        "small/page.py"
'''

SMALL_CONFIG = '''\
out: work/small
results: results
small_figures:
  fig1: {size: 16, color: [200, 30, 30]}
  fig2: {size: 24, color: [30, 30, 200]}
'''

#: the small workflow's config files, layered in this order (as `oeseg audit --configfile` takes them)
SMALL_CONFIGFILES = ["config.yaml", "small.yaml"]

SMALL_SCRIPTS = {
    "scores.py": '''\
import random
from oeseg.io import atomic_write_json
from oeseg.workflow import rule_step

with rule_step(snakemake):
    rng = random.Random(snakemake.params.seed)
    atomic_write_json(snakemake.output[0], {"PQ": round(100 * rng.random(), 3)})
''',
    "table1.py": '''\
from oeseg.io import atomic_write_text, read_json
from oeseg.workflow import rule_step

with rule_step(snakemake):
    rows = [f"{p},{read_json(p)['PQ']}" for p in snakemake.input]
    atomic_write_text(snakemake.output[0], "scores,PQ\\n" + "\\n".join(rows) + "\\n")
''',
    "figure.py": '''\
import io
from PIL import Image
from oeseg.io import atomic_write_bytes, read_json
from oeseg.workflow import rule_step

with rule_step(snakemake):
    style = snakemake.params.style
    width = 1 + int(sum(read_json(p)["PQ"] for p in snakemake.input))
    buf = io.BytesIO()
    Image.new("RGB", (width, style["size"]), tuple(style["color"])).save(buf, format="PNG")
    atomic_write_bytes(snakemake.output[0], buf.getvalue())
''',
    "page.py": '''\
from oeseg.io import atomic_write_text, read_json
from oeseg.workflow import rule_step

with rule_step(snakemake):
    items = "".join(f"<li>{read_json(p)['PQ']}</li>" for p in snakemake.input)
    atomic_write_text(snakemake.output[0], f"<!doctype html><ul>{items}</ul>\\n")
''',
}


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity and dates (the same tree gives the same commit)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True,
                          text=True).stdout


def repo_copy(dest: Path, small: bool = True) -> Path:
    """Copy the repository's files (tracked and untracked, not ignored) to a new folder `dest`
    as a new committed git repo, with the small workflow added when `small`. The demo's tracked
    artifacts (results/) stay behind: every test run makes and records its own."""
    dest.mkdir(parents=True)
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, listed):
        if name.startswith("results/"):
            continue
        source = REPO / name
        if source.is_symlink() or source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)
    if small:
        (dest / "small.smk").write_text(SMALL_SNAKEFILE)
        (dest / "small.yaml").write_text(SMALL_CONFIG)
        schema_file = dest / "schemas" / "config.schema.yaml"  # the copy's schema takes small.yaml's key
        schema = yaml.safe_load(schema_file.read_text())
        schema["properties"]["small_figures"] = {"type": "object", "description": "the small workflow's figures"}
        schema_file.write_text(yaml.safe_dump(schema, sort_keys=False))
        (dest / "small").mkdir()
        for name, text in SMALL_SCRIPTS.items():
            (dest / "small" / name).write_text(text)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "copy")
    return dest


def snakemake(root: Path, *args: str, timeout: int = 600,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake in `root` with the copy's sources on PYTHONPATH (jobs inherit it)."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(filter(None, [
        str(root / "src"), os.environ.get("PYTHONPATH")])),
        "PATH": os.pathsep.join([str(Path(SNAKEMAKE).parent), os.environ["PATH"]])}
    return subprocess.run([SNAKEMAKE, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)


def small(root: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the small workflow (its config on top of the repository's config.yaml)."""
    return snakemake(root, "-s", "small.smk", "--configfile", *SMALL_CONFIGFILES, *args,
                     timeout=timeout)


def planned_jobs(dry_run_log: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table of a dry run."""
    table = dry_run_log.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)}
