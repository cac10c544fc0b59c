"""figures.note (the demo's disclaimer) reaches Table 1 and Figures 2, 4, 10, 11 and 12: each rule's
script is run as Snakemake runs it (a `snakemake` object with input, output, params and log) on fake
inputs, and the note must be drawn on the figure or written under the table."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from figure_fakes import fake_map_regions, make_split, write_evaluation, write_region_predictions

from oeseg import mapping
from oeseg.data.vocabularies import DEMO_CITY
from oeseg.figures import curves, lexicon_levels, qualitative, table
from oeseg.lexicon.lexicon import Lexicon, LexiconEntry

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
NOTE = "Demo note: these numbers exercise the workflow."
METHODS = [("opal", "OPAL (ours)"), ("osprey", "Osprey")]
DATASETS = [("demo-city", "Demo-City")]


class Files(list):
    """Snakemake's input/output/params: a list whose entries may also have names."""

    def __init__(self, items=(), **named):
        super().__init__([*items, *named.values()])
        self.__dict__.update(named)

    def get(self, key, default=None):
        return self.__dict__.get(key, default)


def run_script(name: str, input: Files, output: Files, **params) -> None:
    """Run scripts/<name>.py with the global `snakemake` Snakemake gives it."""
    snakemake = SimpleNamespace(input=input, output=output, params=Files(**params), log=[], config={},
                                rule=name, wildcards=Files())
    runpy.run_path(str(SCRIPTS / f"{name}.py"), init_globals={"snakemake": snakemake})


@pytest.fixture
def drawn(monkeypatch):
    """The texts of every figure the figure modules save, by output PDF name."""
    texts: dict[str, list[str]] = {}
    for module in (curves, lexicon_levels, qualitative):
        real = module.save_figure

        def spy(fig, pdf, png, real=real):
            texts[Path(pdf).stem] = [t.get_text() for t in fig.texts]
            real(fig, pdf, png)

        monkeypatch.setattr(module, "save_figure", spy)
    return texts


def _figure_outputs(tmp_path: Path, name: str) -> Files:
    return Files(pdf=str(tmp_path / f"{name}.pdf"), png=str(tmp_path / f"{name}.png"))


def _evaluations(tmp_path: Path) -> list[str]:
    return [str(write_evaluation(tmp_path, m, d, run, base - 4 * i)) for i, (m, _) in enumerate(METHODS)
            for d, _ in DATASETS for run, base in (("s0", 40.0), ("s1", 42.0))]


def test_table1_carries_the_note(tmp_path):
    out = Files(csv=str(tmp_path / "t.csv"), md=str(tmp_path / "t.md"), tex=str(tmp_path / "t.tex"))
    run_script("table1", Files(_evaluations(tmp_path)), out, methods=METHODS, datasets=DATASETS,
               mapping="lexical", caption="Table 1", note=NOTE, groups={})
    assert (tmp_path / "t.md").read_text().rstrip().endswith(f"*{NOTE}*")
    tex = (tmp_path / "t.tex").read_text()
    assert NOTE in tex and tex.index(NOTE) > tex.index(r"\end{tabular}")
    assert NOTE not in (tmp_path / "t.csv").read_text()        # the CSV stays data only


def test_table1_without_a_note_has_none():
    md = table.table1_markdown(table.build_table1([], [], []), note="")
    assert md.rstrip().endswith("|")


def test_lac_figures_carry_the_note(tmp_path, drawn):
    evaluations = Files(_evaluations(tmp_path))
    for name, metrics in (("fig4", ["PQ"]), ("fig12", ["AP", "mIoU"])):
        run_script("lac_curves", evaluations, _figure_outputs(tmp_path, name), methods=METHODS,
                   datasets=DATASETS, metrics=metrics, mapping="lexical", note=NOTE)
    run_script("fig11", evaluations, _figure_outputs(tmp_path, "fig11"), methods=METHODS, datasets=DATASETS,
               metric="PQ", mapping="lexical", note=NOTE)
    assert {name: NOTE in texts for name, texts in drawn.items()} == {"fig4": True, "fig12": True, "fig11": True}


def test_fig2_carries_the_note(tmp_path, drawn, monkeypatch):
    monkeypatch.setattr(mapping, "map_regions", fake_map_regions, raising=False)
    Lexicon("demo-city", {"kind": "test"}, [LexiconEntry(c.id, c.name, [c.name], [], [], [])
                                             for c in DEMO_CITY]).save(tmp_path / "l.json")
    run_script("fig2", Files(lexicon=str(tmp_path / "l.json")), _figure_outputs(tmp_path, "fig2"),
               vocabulary="demo-city", category="car", descriptions=["a car"], max_terms=10, note=NOTE)
    assert NOTE in drawn["fig2"]


def test_fig10_carries_the_note(tmp_path, drawn):
    split = make_split(tmp_path / "val", DEMO_CITY)
    predictions = [str(write_region_predictions(tmp_path / f"{m}.jsonl", {2: "a red car", 3: f"a man ({m})"}))
                   for m, _ in METHODS]
    run_script("fig10", Files(split=str(split / "panoptic.json"), predictions=predictions),
               _figure_outputs(tmp_path, "fig10"), split_dir=str(split), labels=[label for _, label in METHODS],
               n_regions=2, min_area=16, note=NOTE)
    assert NOTE in drawn["fig10"]
