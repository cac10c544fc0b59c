"""The figures rules through Snakemake: Table 1 and the LAC figures from fake evaluation files,
the report with captions, and the paper config's stop while annotation CSVs are missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from figure_fakes import make_split, write_evaluation, write_region_predictions

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args, cwd=REPO, check=True):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--directory", str(cwd),
                           "--snakefile", str(REPO / "Snakefile"), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_table_and_curves_rules_and_report(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    out = tmp_path / "work"
    for dataset, shift in (("demo-city", 0.0), ("demo-ade", -10.0)):
        for run, base in (("s0-t0.2", 40.0), ("s1-t0.2", 41.0), ("s2-t0.5", 43.0)):
            write_evaluation(out, "opal", dataset, run, base + shift)
            write_evaluation(out, "osprey", dataset, run, base + shift - 3)
        for method, base in (("ovclassifier", 30.0), ("tags", 33.0)):
            write_evaluation(out, method, dataset, "main", base + shift)
    # only the rules under test: the fake evaluations stand in for everything upstream
    config = ["--allowed-rules", "table1", "fig4", "fig11", "fig12", "--config", f"out={out}",
              f"results={tmp_path / 'results'}"]
    snakemake("table1", "fig4", "fig11", "fig12", *config, cwd=tmp_path)
    results = tmp_path / "results"
    md = (results / "table1.md").read_text()
    assert "| OPAL (ours) | **48.8 ± 1.5** |" in md
    assert md.rstrip().endswith("the numbers exercise the workflow and are not the paper's.*")  # figures.note
    for fig in ("fig4", "fig11", "fig12"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 10_000
    snakemake("table1", "fig4", "fig11", "fig12", *config, "--report", str(tmp_path / "report.zip"),
              cwd=tmp_path)
    with zipfile.ZipFile(tmp_path / "report.zip") as z:
        names = z.namelist()
        text = "\n".join(z.read(n).decode("utf-8", "replace") for n in names if n.endswith((".html", ".js")))
    assert any(n.endswith("fig4.png") for n in names) and any(n.endswith("table1.tex") for n in names)
    assert "Lexical Alignment Curves" in text and "synthetic datasets" in text


def test_paper_config_stops_clearly_without_annotations(tmp_path):
    """The DAG lists the annotators' CSVs as user-provided inputs; a run stops naming the missing one."""
    config = ["--configfile", str(REPO / "configs" / "paper.yaml"), "--config", f"out={tmp_path / 'work'}"]
    dry = snakemake("-n", "fig1", *config, cwd=tmp_path)
    assert "annotations/human_study/annotator1.csv: missing; it is an annotator's CSV exported from" in dry.stdout
    proc = snakemake("annotations/human_study/annotator1.csv", *config, cwd=tmp_path, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "work" / "logs" / "user_provided" / "annotations" / "human_study" / "annotator1.csv.log").read_text()
    assert "annotations/human_study/annotator1.csv: missing; it is an annotator's CSV exported from" in log
    assert "Traceback" not in log and "Traceback" not in proc.stderr  # bad input: its message alone


@pytest.mark.parametrize("listed", [False, True])
def test_the_resolved_csv_cannot_be_the_disagreements_csv_the_workflow_writes(tmp_path, listed):
    """Filled in where the agreement rule wrote it, the resolved answers would be overwritten by the
    rule's next run: a config naming that file (alone, or as one of the re-annotations) stops with a
    message saying so."""
    work = tmp_path / "work"
    resolved = f"{work}/human_study/disagreements.csv"
    resolved = f"[{tmp_path}/r1.csv, {resolved}]" if listed else resolved
    (tmp_path / "overlay.yaml").write_text(f"human_study: {{resolved: {resolved}}}\n")
    proc = snakemake("-n", "fig1", "--configfile", str(REPO / "configs" / "paper.yaml"), str(tmp_path / "overlay.yaml"),
                     "--config", f"out={work}", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert (f"human_study.resolved: {work}/human_study/disagreements.csv is the disagreements CSV that rule "
            "human_study_agreement writes") in proc.stderr + proc.stdout


@pytest.mark.parametrize("target", ["human_study_agreement", "human_study_second_page"])
def test_the_annotators_targets_explain_a_config_without_annotators(tmp_path, target):
    """The README names both as targets: with the demo's reference (the generator), each says what it
    needs instead of Snakemake's bare 'No rule to produce'."""
    proc = snakemake("-n", target, "--config", f"out={tmp_path / 'work'}", check=False)
    assert proc.returncode != 0
    assert "the agreement of two annotators belongs to human_study.reference 'annotators' (this config's is " \
           "'generator')" in proc.stderr + proc.stdout


def test_a_local_paper_study_file_feeds_both_of_its_mappings(tmp_path):
    """human_study.paper_study.results names a local copy: the paper's and our mappings read it alike."""
    local = tmp_path / "my_user_study_results.json"
    local.write_text("[]")
    (tmp_path / "overlay.yaml").write_text(f"human_study: {{paper_study: {{results: {local}}}}}\n")
    proc = snakemake("-n", "paper_study", "--configfile", str(REPO / "configs" / "paper.yaml"),
                     str(tmp_path / "overlay.yaml"), "--config", f"out={tmp_path / 'work'}", cwd=tmp_path)
    jobs = proc.stdout.split("\nrule ")
    for rule in ("paper_study_table", "map_user_study"):
        (job,) = [j for j in jobs if j.startswith(f"{rule}:")]
        assert str(local) in job, job
    assert "user_study_results.json" not in proc.stdout.replace(local.name, "")


@pytest.mark.slow
def test_paper_study_target_offline(tmp_path, shared_data):
    """The paper config's paper_study target with the reference files placed where the download rule
    puts them (and the cityscapes lexicon where the lexicon stage puts it): nothing is fetched."""
    paper, work = shared_data / "paper", tmp_path / "work"
    (work / "downloads" / "paper").mkdir(parents=True)
    for name in ("user_study_results.json", "cityscapes_with_prompt_eng.txt", "output_semantics_gpt4_cityscapes.json"):
        shutil.copy(paper / name, work / "downloads" / "paper" / name)
    (work / "lexicons").mkdir()
    shutil.copy(paper / "output_semantics_gpt4_cityscapes.json", work / "lexicons" / "cityscapes.json")
    snakemake("-c2", "paper_study", "--configfile", str(REPO / "configs" / "paper.yaml"), "--config",
              f"out={work}", f"results={tmp_path / 'results'}", cwd=tmp_path)
    accuracy = json.loads((tmp_path / "results" / "paper_study" / "accuracy.json").read_text())
    assert round(accuracy["paper"]["sbert"]["all"], 1) == 62.0
    assert [round(accuracy["paper"]["lexical"][lv]["all"], 1) for lv in ("exact", "synonym", "hyponym", "meronym")] \
        == [28.3, 50.0, 79.3, 91.5]
    assert round(accuracy["paper"]["differ"]["lexical"]["meronym"], 1) == 84.2
    assert accuracy["ours"]["n"]["all"] == 1181
    # our Sentence-BERT mapping (same model, class list and template) agrees with the paper's
    assert round(accuracy["ours"]["sbert"]["all"], 1) == 62.0
    for fig in ("fig1", "fig3", "fig8"):
        assert (tmp_path / "results" / "paper_study" / f"{fig}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_demo_human_study_and_figures_rules(tmp_path):
    """Figures 1, 2, 3, 8, 10 and the annotation page through the rules, with the real mappings, on a
    fake val split, fake OPAL/Osprey predictions and a small lexicon placed where the stages put them."""
    from oeseg.data.vocabularies import DEMO_CITY
    from oeseg.lexicon.lexicon import Lexicon, LexiconEntry

    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    out, data = tmp_path / "work", tmp_path / "data"
    make_split(data / "demo-city" / "val", DEMO_CITY)
    texts = {"opal": {1: "a grey street", 2: "a white sedan", 3: "a man walking"},
             "osprey": {1: "the road", 2: "the wheel of a car", 3: "a pedestrian"}}
    for method, t in texts.items():
        write_region_predictions(out / "predictions" / method / "demo-city" / "s0-t0.2.jsonl", t)
    terms = {"road": (["street"], ["highway"], ["lane"]), "car": (["automobile"], ["sedan", "taxi"], ["wheel"]),
             "person": (["pedestrian"], ["man", "woman"], ["hand"])}  # every other category: names alone
    Lexicon("demo-city", {"kind": "test"}, [LexiconEntry(c.id, c.name, [c.name], *terms.get(c.name, ([], [], [])))
                                            for c in DEMO_CITY]).save(out / "lexicons" / "demo-city.json")
    results = tmp_path / "results"
    # only the rules under test: the fake split, predictions and lexicon stand in for everything upstream
    figure_rules = ["human_study", "human_study_select", "human_study_page", "human_study_table",
                    "fig1", "fig2", "fig3", "fig8", "fig10"]
    snakemake("-c2", "human_study", "fig1", "fig2", "fig3", "fig8", "fig10", "--allowed-rules", *figure_rules,
              "--config", f"out={out}", f"data_root={data}", f"results={results}", cwd=tmp_path)
    page = (results / "human_study" / "annotation.html").read_text()
    assert "a white sedan" in page and "None of the above" in page
    accuracy = json.loads((out / "human_study" / "accuracy.json").read_text())["ours"]
    # the reference is the region's ground truth: the lexical mapping (GT priority) finds every one
    assert accuracy["lexical"]["meronym"]["all"] == 100.0
    for fig in ("fig1", "fig2", "fig3", "fig8", "fig10"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 10_000
