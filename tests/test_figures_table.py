"""Table 1 from fake evaluation files: aggregation over runs, bold best, CSV/Markdown/LaTeX."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest
from figure_fakes import write_evaluation

from oeseg.figures.evaluations import load_evaluation, parse_evaluation_path
from oeseg.figures.table import build_table1, write_table1
from oeseg.io import InputError

METHODS = [("opal", "OPAL (ours)"), ("osprey", "Osprey_7B & co")]
DATASETS = [("demo-city", "Demo-City"), ("demo-ade", "Demo-ADE")]


def _evaluations(tmp_path):
    paths = []
    for run, base in (("s0", 40.0), ("s1", 42.0), ("s2", 44.0)):
        paths.append(write_evaluation(tmp_path, "opal", "demo-city", run, base))
        paths.append(write_evaluation(tmp_path, "opal", "demo-ade", run, base - 20))
    paths.append(write_evaluation(tmp_path, "osprey", "demo-city", "main", 30.0))
    paths.append(write_evaluation(tmp_path, "osprey", "demo-ade", "main", 30.0))
    paths.append(write_evaluation(tmp_path, "osprey", "demo-ade", "main", 99.0, mapping="sbert"))
    return [str(p) for p in paths]


def test_evaluation_path_names_method_dataset_run_mapping(tmp_path):
    assert parse_evaluation_path("out/evaluations/opal/demo-city/s0-t0.2.lexical.json") == \
        ("opal", "demo-city", "s0-t0.2", "lexical")


def test_table1_mean_std_and_best(tmp_path):
    table = build_table1([load_evaluation(p) for p in _evaluations(tmp_path)], METHODS, DATASETS)
    opal = table.cells[("opal", "demo-city", "PQ")]
    # PQ curve base+0/5/10/15 -> LAC = base + 7.5; runs 40, 42, 44 -> mean 49.5, sample std 2.0
    assert opal.mean == pytest.approx(49.5) and opal.std == pytest.approx(2.0) and opal.runs == 3 and opal.best
    osprey_city = table.cells[("osprey", "demo-city", "PQ")]
    assert osprey_city.std is None and osprey_city.mean == pytest.approx(37.5) and not osprey_city.best
    # demo-ade: opal 20/22/24 -> 29.5, osprey lexical 30 -> 37.5 (the sbert file is ignored)
    assert table.cells[("osprey", "demo-ade", "PQ")].best
    assert not table.cells[("opal", "demo-ade", "PQ")].best
    assert table.cells[("opal", "demo-ade", "AP")].mean == pytest.approx(26.5)


def test_table1_files_and_latex_compiles(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    write_table1(_evaluations(tmp_path), METHODS, DATASETS, out / "t.csv", out / "t.md", out / "t.tex",
                 "LAC scores; best in bold & 100% demo", groups={"opal": "mllm", "osprey": "baseline"})
    rows = list(csv.DictReader(open(out / "t.csv")))
    assert len(rows) == 2 * 2 * 3
    best = {(r["method"], r["dataset"], r["metric"]) for r in rows if r["best"] == "1"}
    assert ("opal", "demo-city", "mIoU") in best and ("osprey", "demo-ade", "AP") in best
    md = (out / "t.md").read_text()
    assert "| OPAL (ours) | **49.5 ± 2.0** |" in md
    tex = (out / "t.tex").read_text()
    assert r"\textbf{49.5} $\pm$ \textbf{2.0}" in tex and r"Osprey\_7B \& co" in tex
    lines = tex.splitlines()  # a rule under the header and one between the two groups
    opal_row = next(i for i, line in enumerate(lines) if line.startswith("OPAL (ours) &"))
    assert lines[opal_row - 1] == lines[opal_row + 1] == r"\midrule" and lines.count(r"\midrule") == 2
    assert shutil.which("pdflatex"), "texlive (pdflatex) is required"
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[utf8]{inputenc}\n"
                   "\\begin{document}\n\\input{results/t.tex}\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_table1_notes_the_cells_scored_on_part_of_the_images(tmp_path):
    """A method whose evaluations left images out (--scored-images described) is named under the
    table with its count, after the configured note; cells scored on every image are not."""
    paths = _evaluations(tmp_path)
    paths.append(str(write_evaluation(tmp_path, "maskclip", "demo-city", "main", 20.0,
                                      images={"total": 500, "scored": 267, "policy": "described"})))
    paths.append(str(write_evaluation(tmp_path, "maskclip", "demo-ade", "main", 20.0,
                                      images={"total": 2000, "scored": 2000, "policy": "described"})))
    out = tmp_path / "results"
    out.mkdir()
    methods = METHODS + [("maskclip", "MaskCLIP")]
    write_table1(paths, methods, DATASETS, out / "t.csv", out / "t.md", out / "t.tex", "caption", note="Demo.")
    note = "Demo. Scored on the images its descriptions cover: MaskCLIP on Demo-City, 267 of 500 images."
    assert (out / "t.md").read_text().endswith(f"\n*{note}*\n")
    assert rf"\emph{{{note}}}" in (out / "t.tex").read_text()
    write_table1(paths[:-2], METHODS, DATASETS, out / "t.csv", out / "t.md", out / "t.tex", "caption")
    assert "Scored on" not in (out / "t.md").read_text()
    bad = write_evaluation(tmp_path, "maskclip", "demo-city", "bad", 20.0, images={"total": 5, "scored": 6})
    with pytest.raises(InputError, match=r"bad.lexical.json: field 'images' needs counts 0 <= scored <= total"):
        load_evaluation(bad)


def test_missing_evaluation_and_bad_file_are_clear(tmp_path):
    paths = _evaluations(tmp_path)
    with pytest.raises(InputError, match="no lexical evaluation of method 'ferret' on dataset 'demo-city'"):
        build_table1([load_evaluation(p) for p in paths], METHODS + [("ferret", "Ferret")], DATASETS)
    bad = tmp_path / "evaluations" / "x" / "d" / "main.lexical.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"levels": ["exact", "synonym", "hyponym", "meronym"], "metrics": {"PQ": {"exact": 1}}, '
                   '"lac": {}}')
    with pytest.raises(InputError, match=r"main.lexical.json: field 'metrics.PQ' needs a value"):
        load_evaluation(bad)
    levels = '["exact", "synonym", "hyponym", "meronym"]'
    bad.write_text(f'{{"levels": {levels}, "metrics": [], "lac": {{}}}}')
    with pytest.raises(InputError, match=r"main.lexical.json: field 'metrics' must be an object, got list"):
        load_evaluation(bad)
    good = json.loads(open(paths[0], encoding="utf-8").read())
    for metric, level, value, message in [
            ("AP", "hyponym", None, r"field 'metrics.AP.hyponym' is null: the metric is undefined on this split"),
            ("mIoU", "exact", "12.5", r"field 'metrics.mIoU.exact' is not a number: '12.5'")]:
        broken = json.loads(json.dumps(good))
        broken["metrics"][metric][level] = value
        bad.write_text(json.dumps(broken))
        with pytest.raises(InputError, match=message):
            load_evaluation(bad)


def test_table1_rules_only_between_groups(tmp_path):
    """Methods of one group, or without one, share a block: the header's rule only."""
    from oeseg.figures.table import table1_latex

    evaluations = [load_evaluation(p) for p in _evaluations(tmp_path)]
    for groups in (None, {"opal": "mllm", "osprey": "mllm"}, {"opal": "mllm"}):
        tex = table1_latex(build_table1(evaluations, METHODS, DATASETS, groups=groups), "caption")
        assert tex.splitlines().count(r"\midrule") == 1, groups
