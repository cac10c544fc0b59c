"""Figures 2, 4, 10, 11, 12 from fake inputs; Figures 1, 3, 8 and the paper's published study."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from figure_fakes import fake_map_regions, make_split, write_evaluation, write_region_predictions
from PIL import Image

from oeseg import mapping
from oeseg.data.vocabularies import CITYSCAPES, DEMO_CITY
from oeseg.figures.curves import plot_lac_boxplots, plot_lac_curves, write_lac_boxplots, write_lac_curves
from oeseg.figures.evaluations import load_evaluation
from oeseg.figures.lexicon_levels import plot_fig2, write_fig2
from oeseg.figures.qualitative import choose_regions, plot_fig10, write_fig10
from oeseg.figures.accuracy import plot_fig1, plot_fig3, plot_fig8, write_fig1, write_fig3, write_fig8
from oeseg.human_study.published import (
    paper_study_rows,
    user_study_mapping_rows,
    write_our_paper_study,
    write_paper_study,
)
from oeseg.human_study.table import StudyRow, read_study, study_accuracy, write_study
from oeseg.io import InputError
from oeseg.lexicon.lexicon import LEVELS, Lexicon, LexiconEntry
from oeseg.mapping import BACKGROUND

METHODS = [("opal", "OPAL (ours)"), ("osprey", "Osprey")]
DATASETS = [("demo-city", "Demo-City"), ("demo-ade", "Demo-ADE")]


def assert_figure(pdf, png, min_width=600):
    """A real PDF and a PNG of a readable size."""
    assert pdf.read_bytes()[:5] == b"%PDF-"
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width >= min_width and im.height >= 200


def _evaluations(tmp_path):
    paths = []
    for d, _ in DATASETS:
        for run, base in (("s0", 40.0), ("s1", 41.0), ("s2", 43.0)):
            paths.append(write_evaluation(tmp_path, "opal", d, run, base))
            paths.append(write_evaluation(tmp_path, "osprey", d, run, base - 4))
    return [str(p) for p in paths]


def test_lac_curves_and_boxplots(tmp_path):
    paths = _evaluations(tmp_path)
    write_lac_curves(paths, METHODS, DATASETS, ["PQ"], tmp_path / "fig4.pdf", tmp_path / "fig4.png")
    assert_figure(tmp_path / "fig4.pdf", tmp_path / "fig4.png")
    write_lac_curves(paths, METHODS, DATASETS, ["AP", "mIoU"], tmp_path / "fig12.pdf", tmp_path / "fig12.png")
    with Image.open(tmp_path / "fig12.png") as big, Image.open(tmp_path / "fig4.png") as small:
        assert big.height > 1.6 * small.height          # two rows of panels
    write_lac_boxplots(paths, METHODS, DATASETS, "PQ", tmp_path / "fig11.pdf", tmp_path / "fig11.png")
    assert_figure(tmp_path / "fig11.pdf", tmp_path / "fig11.png")
    with pytest.raises(InputError, match="no evaluation of method 'ferret'"):
        write_lac_curves(paths, METHODS + [("ferret", "Ferret")], DATASETS, ["PQ"], tmp_path / "x.pdf",
                         tmp_path / "x.png")


def test_lac_figures_plot_the_evaluations_numbers(tmp_path):
    """The curves are each method's mean over its runs with a min-max band, the legend its mean LAC,
    the boxes the runs' LAC of the metric asked, with their sample standard deviation."""
    evaluations = [load_evaluation(p) for p in _evaluations(tmp_path)]
    # opal runs: bases 40, 41, 43 (osprey 4 lower); PQ = base + 5 * level, mIoU = PQ + 2, AP = PQ - 3
    fig = plot_lac_curves(evaluations, METHODS, DATASETS, ["AP", "mIoU"])
    assert [ax.get_title() for ax in fig.axes[:4]] == ["(a) Demo-City: AP", "(b) Demo-ADE: AP",
                                                      "(c) Demo-City: mIoU", "(d) Demo-ADE: mIoU"]
    for ax, offset in zip(fig.axes[:4], (-3, -3, 2, 2)):
        opal, osprey = ax.lines[:2]
        assert list(opal.get_xdata()) == pytest.approx([0, 1 / 3, 2 / 3, 1])
        assert list(opal.get_ydata()) == pytest.approx([124 / 3 + offset + 5 * i for i in range(4)])
        assert list(osprey.get_ydata()) == pytest.approx([112 / 3 + offset + 5 * i for i in range(4)])
        band = ax.collections[0].get_paths()[0].vertices[:, 1]
        assert (band.min(), band.max()) == pytest.approx((40 + offset, 43 + offset + 15))
        # LAC of a curve rising 5 per level from b: b + 7.5; mean over the runs
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            f"OPAL (ours) (LAC {124 / 3 + offset + 7.5:.1f})", f"Osprey (LAC {112 / 3 + offset + 7.5:.1f})"]
    fig = plot_lac_boxplots(evaluations, METHODS, DATASETS, "mIoU")
    for ax in fig.axes[:2]:
        dots = [sorted(c.get_offsets()[:, 1].tolist()) for c in ax.collections[:2]]
        assert dots == [pytest.approx([49.5, 50.5, 52.5]), pytest.approx([45.5, 46.5, 48.5])]
        # sample std of (0, 1, 3): sqrt(((4/3)^2 + (1/3)^2 + (5/3)^2) / 2) = sqrt(7/3)
        assert [t.get_text() for t in ax.texts] == [f"σ = {(7 / 3) ** 0.5:.2f}"] * 2


def test_lac_figures_read_the_mapping_they_are_given(tmp_path):
    """`figures.mapping: sbert`: Figures 4, 11 and 12 plot the Sentence-BERT evaluations."""
    sbert = [str(write_evaluation(tmp_path, m, d, "main", 30.0, mapping="sbert"))
             for m, _ in METHODS for d, _ in DATASETS]
    write_lac_curves(sbert, METHODS, DATASETS, ["PQ"], tmp_path / "fig4.pdf", tmp_path / "fig4.png", mapping="sbert")
    write_lac_boxplots(sbert, METHODS, DATASETS, "PQ", tmp_path / "fig11.pdf", tmp_path / "fig11.png",
                       mapping="sbert")
    assert_figure(tmp_path / "fig4.pdf", tmp_path / "fig4.png")
    with pytest.raises(InputError, match="no evaluation of method 'opal'"):  # no lexical evaluation there
        write_lac_curves(sbert, METHODS, DATASETS, ["PQ"], tmp_path / "x.pdf", tmp_path / "x.png")


def test_fig10_crops_regions_described_by_every_method(tmp_path):
    split = make_split(tmp_path / "val", DEMO_CITY)
    opal = write_region_predictions(tmp_path / "opal.jsonl", {1: "a grey street", 2: "a red car", 3: "a man"})
    osprey = write_region_predictions(tmp_path / "osprey.jsonl", {2: "a vehicle", 3: "a pedestrian in blue"})
    from oeseg.data.panoptic import PanopticSplit
    regions = choose_regions(PanopticSplit.load(split), [{("im0", 2), ("im0", 3), ("im1", 3)}], 5, 64)
    assert regions == [("im0", 3), ("im1", 3), ("im0", 2)]      # the larger of the least shown first
    every = {(f"im{k}", sid) for k in range(2) for sid in (1, 2, 3)}
    # round-robin over images, each time the category shown least: road, person, car before a second road
    assert choose_regions(PanopticSplit.load(split), [every], 4, 64) == [("im0", 1), ("im1", 3), ("im0", 2), ("im1", 1)]
    write_fig10(str(split), {"OPAL": str(opal), "Osprey": str(osprey)}, tmp_path / "f.pdf", tmp_path / "f.png",
                n_regions=4, min_area=64)
    assert_figure(tmp_path / "f.pdf", tmp_path / "f.png")
    with pytest.raises(InputError, match="no region of at least 100000 pixels"):
        write_fig10(str(split), {"OPAL": str(opal)}, tmp_path / "g.pdf", tmp_path / "g.png", min_area=100000)


def test_fig10_counts_the_area_in_the_png_where_panoptic_json_has_none(tmp_path):
    """`area` is optional in the panoptic format: without it the regions are filtered and ranked by
    their pixels in the panoptic PNG, as with it."""
    from oeseg.data.panoptic import PanopticSplit
    split = make_split(tmp_path / "val", DEMO_CITY)
    every = {(f"im{k}", sid) for k in range(2) for sid in (1, 2, 3)}
    with_area = choose_regions(PanopticSplit.load(split), [every], 4, 64)
    obj = json.loads((split / "panoptic.json").read_text())
    for annotation in obj["annotations"]:
        for segment in annotation["segments_info"]:
            del segment["area"]
    (split / "panoptic.json").write_text(json.dumps(obj))
    assert choose_regions(PanopticSplit.load(split), [every], 4, 64) == with_area
    assert choose_regions(PanopticSplit.load(split), [every], 9, 401) == [("im0", 1), ("im1", 3), ("im0", 3), ("im1", 1)]  # car: 400 pixels
    opal = write_region_predictions(tmp_path / "opal.jsonl", {1: "a grey street", 2: "a red car", 3: "a man"})
    write_fig10(str(split), {"OPAL": str(opal)}, tmp_path / "f.pdf", tmp_path / "f.png", n_regions=4, min_area=64)
    assert_figure(tmp_path / "f.pdf", tmp_path / "f.png")


def test_fig10_shows_each_regions_crop_ground_truth_and_descriptions(tmp_path):
    """Each panel: the chosen region's crop (its pixels bright, the rest dimmed, a margin around its
    box), its edge, its ground-truth category, then every method's own description of that region,
    in the order the methods are given."""
    from oeseg.data.panoptic import PanopticSplit
    split = PanopticSplit.load(make_split(tmp_path / "val", DEMO_CITY))
    regions = [("im0", 3), ("im1", 2), ("im0", 1)]
    every = [(f"im{k}", sid) for k in range(2) for sid in (1, 2, 3)]
    descriptions = {"Osprey": {r: f"osprey says {r[0]}/{r[1]}" for r in every},
                    "OPAL": {r: f"opal says {r[0]}/{r[1]}" for r in every}}
    fig = plot_fig10(split, descriptions, regions, ncols=2)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["GT: person\nOsprey: osprey says im0/3\nOPAL: opal says im0/3",
                      "GT: car\nOsprey: osprey says im1/2\nOPAL: opal says im1/2",
                      "GT: road\nOsprey: osprey says im0/1\nOPAL: opal says im0/1", ""]
    # make_split: person rows 5-39, columns 40-51, blue (30, 30, 200); car rows 10-29, columns 6-25
    # in im1, red (200, 30, 30); a margin of a quarter of the box + 2 pixels, clipped to the image
    for ax, (rows, cols), colour, box in (
            (fig.axes[0], (slice(0, 48), slice(35, 57)), (30, 30, 200), ((5, 39), (5, 16))),
            (fig.axes[1], (slice(3, 37), slice(0, 33)), (200, 30, 30), ((7, 26), (6, 25)))):
        crop = np.asarray(ax.images[0].get_array())
        assert crop.shape == (rows.stop - rows.start, cols.stop - cols.start, 3)
        bright = np.all(crop == colour, axis=-1)
        ys, xs = np.nonzero(bright)
        assert ((ys.min(), ys.max()), (xs.min(), xs.max())) == box
        assert bright.sum() == (box[0][1] - box[0][0] + 1) * (box[1][1] - box[1][0] + 1)
        assert crop[~bright].max() <= 0.35 * 200 + 1  # everything else dimmed
        edge = np.concatenate([p.vertices for c in ax.collections for p in c.get_paths()])
        assert (edge[:, 1].min(), edge[:, 1].max()) == pytest.approx((box[0][0] - 0.5, box[0][1] + 0.5), abs=0.51)
        assert (edge[:, 0].min(), edge[:, 0].max()) == pytest.approx((box[1][0] - 0.5, box[1][1] + 0.5), abs=0.51)


def test_fig8_table_shows_each_sources_mappings_and_the_reference():
    """Per example description: each source's Sentence-BERT and lexical (meronym) category, green
    where it is the reference, and the reference itself; the examples where Sentence-BERT and the
    lexical mapping differ come first."""
    paper = _known_rows()
    car, road, person = 13, 0, 11
    lex = lambda m: dict(zip(("exact", "synonym", "hyponym", "meronym"), (BACKGROUND, BACKGROUND, m, m)))  # noqa: E731
    ours = [StudyRow(r.id, r.description, r.reference, sbert, lex(meronym), None)
            for r, (sbert, meronym) in zip(paper, ((road, car), (car, road), (person, road), (BACKGROUND, person)))]
    fig = plot_fig8({"paper": paper, "ours": ours}, CITYSCAPES, n_examples=4, reference_label="Human")
    cells = fig.axes[0].tables[0].get_celld()
    header = [cells[0, c].get_text().get_text() for c in range(6)]
    assert header == ["Description", "Sentence-\nBERT\n(paper)", "Lexical\n(paper)", "Sentence-\nBERT\n(ours)",
                      "Lexical\n(ours)", "Human\ncategory"]
    table = [[cells[r, c].get_text().get_text() for c in range(6)] for r in range(1, 5)]
    assert {row[0] for row in table[:2]} == {"a sedan", "a corgi"}  # Sentence-BERT and lexical differ
    assert sorted(table) == [["a car", "car", "car", "road", "car", "car"],
                             ["a corgi", "person", "bg", "bg", "person", "none"],
                             ["a sedan", "road", "car", "car", "road", "car"],
                             ["the street", "road", "road", "person", "road", "road"]]
    green, red, plain = set(), set(), {cells[r, c].get_facecolor() for r in range(1, 5) for c in (0, 5)}
    for r, row in enumerate(table, start=1):
        reference = {"none": "bg"}.get(row[5], row[5])
        for c in range(1, 5):
            (green if row[c] == reference else red).add(cells[r, c].get_facecolor())
    assert len(green) == len(red) == len(plain) == 1 and len(green | red | plain) == 3


def test_fig2_maps_descriptions_with_the_category_as_ground_truth(tmp_path, monkeypatch):
    calls = []

    def spy(descriptions, gts, vocabulary, method, lexicon=None, levels=None):
        calls.append((list(gts), method, lexicon.vocabulary))
        return fake_map_regions(descriptions, gts, vocabulary, method)

    monkeypatch.setattr(mapping, "map_regions", spy, raising=False)
    car = DEMO_CITY.by_name("car").id
    lex = Lexicon("demo-city", {"kind": "test"}, [
        LexiconEntry(car, "car", ["car"], ["automobile"], ["sedan"], ["wheel"]) if c.id == car
        else LexiconEntry(c.id, c.name, [c.name], [], [], []) for c in DEMO_CITY])
    lex.save(tmp_path / "lex.json")
    write_fig2(str(tmp_path / "lex.json"), "demo-city", "car", ["a car", "an automobile", "a wheel", "a dog"],
               tmp_path / "f.pdf", tmp_path / "f.png")
    assert_figure(tmp_path / "f.pdf", tmp_path / "f.png")
    assert calls == [([car] * 4, "lexical", "demo-city")]
    with pytest.raises(InputError, match="figures.fig2.category"):
        write_fig2(str(tmp_path / "lex.json"), "demo-city", "unicorn", ["a car"], tmp_path / "f.pdf",
                   tmp_path / "f.png")


def _known_rows():
    car, road, person = 13, 0, 11
    lex = lambda *v: dict(zip(("exact", "synonym", "hyponym", "meronym"), v))  # noqa: E731
    rows = [("1", "a car", car, car, lex(car, car, car, car)),
            ("2", "a sedan", car, road, lex(BACKGROUND, BACKGROUND, car, car)),
            ("3", "the street", road, road, lex(BACKGROUND, road, road, road)),
            ("4", "a corgi", BACKGROUND, person, lex(BACKGROUND, BACKGROUND, BACKGROUND, BACKGROUND))]
    # the reference is the region's ground truth (as in the demo): both lexical mappings alike
    return [StudyRow(*r, lexical_region_gt=r[-1]) for r in rows]


def test_fig2_table_shows_each_descriptions_mapping_at_each_level():
    """Panel (b): one row per description, its category at each level (green where it is the
    ground truth), panel (a) the terms each level adds."""
    car, road = DEMO_CITY.by_name("car").id, DEMO_CITY.by_name("road").id
    entry = LexiconEntry(car, "car", ["car"], ["automobile"], ["sedan", "taxi"], ["wheel"])
    mapped = {"exact": [BACKGROUND, car], "synonym": [road, car], "hyponym": [car, car], "meronym": [car, road]}
    fig = plot_fig2(entry, DEMO_CITY, ["a sedan", "a car"], mapped)
    cells = fig.axes[1].tables[0].get_celld()
    assert [[cells[r, c].get_text().get_text() for c in range(5)] for r in (1, 2)] == [
        ["a sedan", "bg", "road", "car", "car"], ["a car", "car", "car", "car", "road"]]
    green, grey, red = (cells[2, 1].get_facecolor(), cells[1, 1].get_facecolor(), cells[1, 2].get_facecolor())
    assert len({green, grey, red}) == 3 and cells[1, 3].get_facecolor() == green == cells[2, 3].get_facecolor()
    assert cells[2, 4].get_facecolor() == red
    texts = [t.get_text() for t in fig.axes[0].texts]  # each level's header, then its terms
    assert texts == ["Exact\n(1 term)", "car", "Synonym\n(+1 term)", "automobile",
                     "Hyponym\n(+2 terms)", "sedan\ntaxi", "Meronym\n(+1 term)", "wheel"]


def test_study_accuracy_on_known_rows():
    rows = _known_rows()
    acc = study_accuracy(rows, CITYSCAPES)
    assert acc["sbert"] == {"all": 50.0, "things": 50.0, "stuff": 50.0}  # "none" counts with stuff
    assert acc["lexical"]["exact"]["all"] == 50.0 and acc["lexical"]["meronym"]["all"] == 100.0
    assert acc["n"] == {"all": 4, "things": 2, "stuff": 2}
    # one subset, where the lexical mapping at any level and Sentence-BERT differ (rows 2 and 4)
    assert acc["differ"] == {"n": 2, "sbert": 0.0,
                             "lexical": {"exact": 50.0, "synonym": 50.0, "hyponym": 100.0, "meronym": 100.0}}


def test_study_figures_plot_the_accuracies_of_the_known_rows():
    """Figures 1 and 3 draw the accuracies counted by hand on the rows of _known_rows: Sentence-BERT
    right on rows 1 and 3; lexical right on 1 and 4 (exact), 1, 3, 4 (synonym), all (hyponym on);
    rows 2 and 4 (things: 1, 2; stuff and none: 3, 4) where the mappings differ."""
    rows = _known_rows()
    fig = plot_fig1({"ours": rows[:3]}, CITYSCAPES)  # Sentence-BERT right on 2 of 3
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert heights == pytest.approx([200 / 3, 100 / 3])  # agrees, error
    fig = plot_fig3({"ours": rows}, CITYSCAPES)
    panel_a, panel_b, panel_c = fig.axes[:3]
    assert [p.get_height() for p in panel_a.patches] == pytest.approx([50, 50, 50, 100, 100, 100])
    assert [p.get_height() for p in panel_b.patches] == pytest.approx([0, 0, 0, 0, 50, 50, 100, 100])
    assert {line.get_label(): list(line.get_ydata()) for line in panel_c.lines} == {
        "all": pytest.approx([50, 75, 100, 100]), "things": pytest.approx([50, 50, 100, 100]),
        "stuff": pytest.approx([50, 100, 100, 100])}


def test_fig3c_scores_the_mapping_with_the_regions_ground_truth_and_says_where_a_source_has_none():
    """Panels (a) and (b) score the lexical mapping with the reference as the priority, (c) the one
    with the region's ground truth: here row 2's region is a sedan's but the reference is road
    (mapped road with that priority, car with the region's). A source without region labels draws
    (a)'s mapping in (c), and the axis says so."""
    car, road = 13, 0
    rows = _known_rows()
    rows[1] = StudyRow("2", "a sedan", road, road, {"exact": BACKGROUND, "synonym": BACKGROUND, "hyponym": road,
                                                    "meronym": road},
                       {"exact": BACKGROUND, "synonym": BACKGROUND, "hyponym": car, "meronym": car})
    acc = study_accuracy(rows, CITYSCAPES)
    # rows 1, 3 and 4 right at the meronym level either way; row 2 with the reference's priority only
    assert acc["lexical"]["meronym"] == {"all": 100.0, "things": 100.0, "stuff": 100.0}
    assert acc["lexical_region_gt"]["meronym"] == {"all": 75.0, "things": 100.0, "stuff": pytest.approx(200 / 3)}
    assert acc["differ"]["n"] == 1  # row 4 only: row 2's Sentence-BERT (road) is now its lexical mapping
    fig = plot_fig3({"ours": rows}, CITYSCAPES)
    panel_a, _, panel_c = fig.axes[:3]
    # things: row 1; stuff: rows 2, 3, 4 (reference road, road, none)
    assert [p.get_height() for p in panel_a.patches] == pytest.approx([75, 100, 200 / 3, 100, 100, 100])
    assert {line.get_label(): list(line.get_ydata()) for line in panel_c.lines} == {
        "all": pytest.approx([50, 75, 75, 75]), "things": pytest.approx([100, 100, 100, 100]),
        "stuff": pytest.approx([100 / 3, 200 / 3, 200 / 3, 200 / 3])}
    assert panel_c.get_xlabel() == "Lexical level (ground-truth priority)"
    no_region = [StudyRow(r.id, r.description, r.reference, r.sbert, r.lexical, None) for r in rows]
    assert study_accuracy(no_region, CITYSCAPES)["lexical_region_gt"] is None
    panel_c = plot_fig3({"paper": no_region}, CITYSCAPES).axes[2]
    assert list(panel_c.lines[0].get_ydata()) == pytest.approx([50, 75, 100, 100])  # (a)'s mapping, all
    assert panel_c.get_xlabel() == "Lexical level (no region ground truth: (a)'s mapping)"
    panel_c = plot_fig3({"paper": no_region, "ours": rows}, CITYSCAPES).axes[2]
    assert panel_c.get_xlabel() == "Lexical level (ground-truth priority; paper: (a)'s mapping)"


def test_paper_study_reproduces_the_papers_numbers(shared_data):
    rows = paper_study_rows(shared_data / "paper" / "user_study_results.json", CITYSCAPES)
    acc = study_accuracy(rows, CITYSCAPES)
    assert len(rows) == 1181
    assert round(acc["sbert"]["all"], 1) == 62.0
    assert [round(acc["lexical"][lv]["all"], 1) for lv in ("exact", "synonym", "hyponym", "meronym")] == \
        [28.3, 50.0, 79.3, 91.5]
    differ = acc["differ"]  # the paper: 84.4 % against 4.8 %, and the lexical mapping ahead already at Exact
    assert differ["n"] == 444 and round(differ["lexical"]["meronym"], 1) == 84.2 and round(differ["sbert"], 1) == 5.6
    assert [round(differ["lexical"][lv], 1) for lv in ("exact", "synonym", "hyponym")] == [34.9, 51.4, 68.2]
    assert round(acc["sbert"]["stuff"], 1) == 49.9 and round(acc["sbert"]["things"], 1) == 72.8  # the paper: 50 % on stuff


def test_bad_paper_study_names_the_field(tmp_path):
    path = tmp_path / "u.json"
    path.write_text(json.dumps([{"description": "x", "human_label": 42, "sentence_bert": 0,
                                 "our_mapping": {"exact": 0, "synonyms": 0, "hyponyms": 0, "meronyms": 0}}]))
    with pytest.raises(InputError, match=r"u.json: \[0\].human_label: 42 is neither a category id"):
        paper_study_rows(path, CITYSCAPES)
    path.write_text(json.dumps([{"description": "x", "human_label": True, "sentence_bert": 0,  # not category 1
                                 "our_mapping": {"exact": 0, "synonyms": 0, "hyponyms": 0, "meronyms": 0}}]))
    with pytest.raises(InputError, match=r"u.json: \[0\].human_label: True is neither a category id"):
        paper_study_rows(path, CITYSCAPES)


def test_a_bad_id_in_our_study_mappings_names_line_and_column(tmp_path):
    path = tmp_path / "mappings.csv"
    path.write_text("description,human,sbert,lexical_exact,lexical_synonym,lexical_hyponym,lexical_meronym\n"
                    "a car,13,13,13,13,13,13\na bus,15,15,15,car,15,15\n")
    with pytest.raises(InputError, match=r"mappings.csv:3: field 'lexical_synonym': a category id is an integer, "
                                         r"got 'car'"):
        user_study_mapping_rows(path)


def test_study_figures_from_paper_and_our_mappings(tmp_path, shared_data):
    src = shared_data / "paper" / "user_study_results.json"
    write_paper_study(str(src), "cityscapes", tmp_path / "paper.csv")
    paper = read_study(tmp_path / "paper.csv", CITYSCAPES)
    # the mapping stage's CSV (rule map_user_study); here: Sentence-BERT always road, lexical as the paper's
    with open(tmp_path / "mappings.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["description", "human", "sbert"] + [f"lexical_{lv}" for lv in LEVELS])
        for r in paper:
            w.writerow([r.description, r.reference, 0] + [r.lexical[lv] for lv in LEVELS])
    write_our_paper_study(str(tmp_path / "mappings.csv"), tmp_path / "ours.csv")
    ours = read_study(tmp_path / "ours.csv", CITYSCAPES)
    assert [(r.description, r.reference) for r in paper] == [(r.description, r.reference) for r in ours]
    sources = {"paper": str(tmp_path / "paper.csv"), "ours": str(tmp_path / "ours.csv")}
    for name, write in (("fig1", write_fig1), ("fig8", write_fig8)):
        write(sources, "cityscapes", tmp_path / f"{name}.pdf", tmp_path / f"{name}.png", note="a note")
        assert_figure(tmp_path / f"{name}.pdf", tmp_path / f"{name}.png")
    acc = write_fig3(sources, "cityscapes", tmp_path / "fig3.pdf", tmp_path / "fig3.png", tmp_path / "acc.json")
    assert_figure(tmp_path / "fig3.pdf", tmp_path / "fig3.png")
    assert json.loads((tmp_path / "acc.json").read_text())["paper"]["differ"]["n"] == 444
    assert round(acc["paper"]["sbert"]["all"], 1) == 62.0
    assert acc["ours"]["lexical"] == acc["paper"]["lexical"]
    assert round(acc["ours"]["sbert"]["all"], 1) == round(100 * sum(r.reference == 0 for r in paper) / 1181, 1)
    with open(tmp_path / "bad.csv", "w") as f:
        f.write("description,human\nx,1\n")
    with pytest.raises(InputError, match="bad.csv:1: missing columns"):
        write_our_paper_study(str(tmp_path / "bad.csv"), tmp_path / "o.csv")


def test_empty_study_is_an_error(tmp_path):
    write_study(tmp_path / "s.csv", [])
    with pytest.raises(InputError, match="s.csv: the study table is empty"):
        write_fig1({"ours": str(tmp_path / "s.csv")}, "cityscapes", tmp_path / "a.pdf", tmp_path / "a.png")


def test_category_label_serves_every_study_figure():
    from oeseg.figures.style import category_label
    car = DEMO_CITY.by_name("car")
    assert category_label(car.id, DEMO_CITY) == car.display_name
    assert category_label(BACKGROUND, DEMO_CITY) == "bg" and category_label(BACKGROUND, DEMO_CITY, "none") == "none"
