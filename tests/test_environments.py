"""One conda environment for the whole workflow: every rule that runs code names envs/oeseg.yaml, and
that environment installs this repository (whose pyproject.toml lists every dependency)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RULE = re.compile(r"^(\s*)(?:rule (\w+)|use rule \w+ as (\w+) with):", re.M)


def rule_blocks(text: str) -> list[tuple[str, str]]:
    """(name, text) of each rule (and `use rule`) block of a Snakefile, in order."""
    starts = list(RULE.finditer(text))
    return [(m.group(2) or m.group(3), text[m.end(): nxt.start() if nxt else len(text)])
            for m, nxt in zip(starts, [*starts[1:], None])]


def test_every_rule_that_runs_code_names_the_one_environment():
    envs = sorted(p.name for p in (REPO / "envs").iterdir())
    assert envs == ["oeseg.yaml"]
    checked = 0
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        for name, block in rule_blocks(path.read_text()):
            if not re.search(r"^\s*(script|shell|run):", block, re.M):
                continue            # target rules and `use rule` blocks inherit or run nothing
            conda = re.findall(r"^\s*conda:\s*\n\s*(\S+)", block, re.M)
            assert conda == ['"../envs/oeseg.yaml"'], f"{path.name}: rule {name} names {conda}"
            checked += 1
    assert checked >= 37


def test_the_environment_installs_this_repository():
    env = yaml.safe_load((REPO / "envs" / "oeseg.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .."] and (REPO / "envs" / ".." / "pyproject.toml").is_file()
