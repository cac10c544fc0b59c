"""The human verification study (paper Section 5.1, Appendix C.1).

1. `select_study_descriptions`: region descriptions of chosen methods on a dataset, mapped by both
   mappings; those where Sentence-BERT and the lexical mapping disagree at one or more levels.
2. `annotation_page`: one self-contained HTML page (inline JS/CSS) to label them: instructions and
   examples as in the paper's Figure 7, a drop-down of the categories plus "None of the above",
   progress, answers kept in the browser's localStorage, export as CSV (id, description, answer).
3. `annotator_agreement`: two annotators' CSVs -> agreement report and the disagreements to resolve
   in a second stage; `annotated_study`: the final labels (agreed or resolved) as a study table.
The demo has no annotators: `reference_study` takes the ground-truth category of each region.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import random
from dataclasses import dataclass

from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_predictions
from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.figures.study import StudyRow, write_study
from oeseg.io import InputError, atomic_write_json, atomic_write_text, read_csv_rows
from oeseg.lexicon.lexicon import LEVELS
from oeseg.mapping import BACKGROUND

NONE_OF_THE_ABOVE = "None of the above"
SELECTION_FIELDS = ("id", "method", "image_id", "segment_id", "description", "gt", "sbert") + LEVELS
ANNOTATION_FIELDS = ("id", "description", "answer")


@dataclass(frozen=True)
class StudyItem:
    """A region description selected for annotation, with its ground truth and both mappings."""

    id: str
    method: str
    image_id: str
    segment_id: int
    description: str
    gt: int
    sbert: int
    lexical: dict[str, int]


def _csv_text(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_selection(path: str | os.PathLike, items: list[StudyItem]) -> None:
    """Write selected descriptions (CSV) atomically."""
    atomic_write_text(path, _csv_text(SELECTION_FIELDS, (
        [i.id, i.method, i.image_id, i.segment_id, i.description, i.gt, i.sbert] + [i.lexical[lv] for lv in LEVELS]
        for i in items)))


def read_selection(path: str | os.PathLike) -> list[StudyItem]:
    """Read selected descriptions; a bad row names the file and line."""
    items = []
    for lineno, r in read_csv_rows(path, SELECTION_FIELDS)[1]:
        try:
            items.append(StudyItem(r["id"], r["method"], r["image_id"], int(r["segment_id"]), r["description"],
                                   int(r["gt"]), int(r["sbert"]), {lv: int(r[lv]) for lv in LEVELS}))
        except ValueError:
            raise InputError(f"{path}:{lineno}: segment and category ids must be integers") from None
    return items


def disagreeing_items(candidates: list[StudyItem]) -> list[StudyItem]:
    """The items where Sentence-BERT and the lexical mapping differ at one or more levels."""
    return [i for i in candidates if any(i.lexical[lv] != i.sbert for lv in LEVELS)]


def select_study_descriptions(predictions: dict[str, str], split_dir: str, vocabulary: str, lexicon_path: str | None,
                              out_csv: str, max_descriptions: int = 0, seed: int = 0,
                              sbert_class_names: str | None = None, sbert_template: str | None = None
                              ) -> list[StudyItem]:
    """Map the methods' descriptions of ground-truth regions both ways and keep the disagreements.

    `predictions`: method -> region predictions (JSONL) on the split; `max_descriptions` > 0 keeps
    a reproducible random sample of that many; `sbert_class_names`: the Sentence-BERT mapping's
    class list (None: the category names)."""
    from oeseg import mapping
    from oeseg.lexicon.lexicon import load_lexicon

    vocab = get_vocabulary(vocabulary)
    split = PanopticSplit.load(split_dir)
    gt = {(im.id, s.id): s.category_id for im in split.images for s in im.segments}
    rows = []
    for method, path in predictions.items():
        for p in read_predictions(path):
            if (p.image_id, p.segment_id) not in gt:
                raise InputError(f"{path}: region ({p.image_id!r}, {p.segment_id}) is not a ground-truth segment "
                                 f"of {split_dir}")
            rows.append((method, p))
    descriptions = [p.description for _, p in rows]
    gts = [gt[(p.image_id, p.segment_id)] for _, p in rows]
    lexicon = load_lexicon(lexicon_path, vocab) if lexicon_path else None
    lexical = mapping.map_regions(descriptions, gts, vocab, "lexical", lexicon=lexicon)
    sbert = mapping.map_regions(descriptions, gts, vocab, "sbert", sbert_class_names=sbert_class_names,
                                sbert_template=sbert_template)
    candidates = [StudyItem(f"{m}/{p.image_id}/{p.segment_id}", m, p.image_id, p.segment_id, p.description, gts[i],
                            sbert[LEVELS[0]][i], {lv: lexical[lv][i] for lv in LEVELS})
                  for i, (m, p) in enumerate(rows)]
    items = disagreeing_items(candidates)
    if max_descriptions and len(items) > max_descriptions:
        items = sorted(random.Random(seed).sample(items, max_descriptions), key=lambda i: i.id)
    if not items:
        raise InputError(f"no description of {sorted(predictions)} on {split_dir} is mapped differently by the "
                         "two mappings: nothing to annotate")
    write_selection(out_csv, items)
    return items


def answer_options(vocabulary: Vocabulary) -> list[str]:
    """The drop-down's answers: each category's display name, then "None of the above"."""
    return [c.display_name for c in vocabulary] + [NONE_OF_THE_ABOVE]


def answer_to_category(answer: str, vocabulary: Vocabulary, where: str) -> int:
    """A category id for an answer; BACKGROUND for "None of the above"."""
    if answer == NONE_OF_THE_ABOVE:
        return BACKGROUND
    for c in vocabulary:
        if c.display_name == answer:
            return c.id
    raise InputError(f"{where}: answer {answer!r} is neither a category of {vocabulary.name} nor "
                     f"{NONE_OF_THE_ABOVE!r}")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>__TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
.instructions{background:#f5f7fa;border:1px solid #d0d7de;border-radius:6px;padding:1em 1.5em}
.examples td{padding:.1em 1em .1em 0}
#progress-bar{width:100%;height:1em}
.sticky{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd;z-index:1}
table.items{border-collapse:collapse;width:100%;margin-top:1em}
table.items td,table.items th{border-bottom:1px solid #eee;padding:.4em;text-align:left}
tr.done td{background:#eefaf0}
textarea{width:100%;height:8em;font-family:monospace}
</style></head><body>
<h1>__TITLE__</h1>
<div class="instructions">
<p>You will see a sentence describing a visual entity (such as an object, animal, body part, etc.). You must
select from the dropdown menu the semantic category from the list that best describes the subject of the
sentence. The list of possible semantic categories is as follows:</p>
<p><b>__CATEGORIES__</b></p>
<p>The subject described may not always match the categories exactly, so you should choose the category that
most closely corresponds to it. You may consider synonyms (e.g., if the subject is "automobile", select car),
hyponyms (e.g., if the subject is "sedan", select car, since it is a type of car), or meronyms (e.g., if the
subject is "wheel" and it is part of a bicycle, select bicycle) to identify the underlying concept. If the
subject does not fit any of the __N__ listed categories, select "None of the above".</p>
<p>Below are some examples of how categories should be assigned to different descriptions:</p>
<table class="examples">__EXAMPLES__</table>
<p>Finally, keep the following considerations in mind:</p>
<ol><li>If multiple objects are mentioned, select only the most relevant category.</li>
<li>If the description does not match any category, select "None of the above."</li>
<li>If you're unsure, ask yourself: What object or entity is the subject of the description?</li>
<li>Which semantic category best describes that object or entity?</li>
<li>Is any of the listed categories explicitly mentioned?</li></ol>
<p>Your answers are saved in this browser as you go; come back to this page to continue. When done, press
<i>Export CSV</i> and send the downloaded file.</p>
</div>
<div class="sticky"><label for="progress-bar">Progress: <span id="progress-text"></span></label>
<progress id="progress-bar" value="0" max="1"></progress>
<button id="export">Export CSV</button></div>
<table class="items"><thead><tr><th>#</th><th>Description</th><th>Category</th></tr></thead>
<tbody id="items"></tbody></table>
<h2>Exported CSV</h2><textarea id="export-csv" readonly></textarea>
<script type="application/json" id="study-data">__DATA__</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("study-data").textContent);
  var key = data.storage_key;
  function load() {
    try { return JSON.parse(window.localStorage.getItem(key)) || {}; } catch (e) { return {}; }
  }
  var answers = load();
  function save() { window.localStorage.setItem(key, JSON.stringify(answers)); }
  function progress() {
    var done = data.items.filter(function (it) { return answers[it.id]; }).length;
    document.getElementById("progress-text").textContent =
      done + " / " + data.items.length + " annotated (" + Math.round(100 * done / data.items.length) + " %)";
    var bar = document.getElementById("progress-bar");
    bar.max = data.items.length; bar.value = done;
  }
  var body = document.getElementById("items");
  data.items.forEach(function (it, i) {
    var tr = document.createElement("tr");
    var n = document.createElement("td"); n.textContent = i + 1;
    var d = document.createElement("td"); d.textContent = it.description;
    var c = document.createElement("td");
    var sel = document.createElement("select");
    sel.setAttribute("data-id", it.id);
    sel.setAttribute("aria-label", "Category of: " + it.description);
    var blank = document.createElement("option"); blank.value = ""; blank.textContent = "-- choose --";
    sel.appendChild(blank);
    data.options.forEach(function (o) {
      var opt = document.createElement("option"); opt.value = o; opt.textContent = o; sel.appendChild(opt);
    });
    if (answers[it.id] && data.options.indexOf(answers[it.id]) >= 0) { sel.value = answers[it.id]; tr.className = "done"; }
    sel.addEventListener("change", function () {
      if (sel.value) { answers[it.id] = sel.value; tr.className = "done"; }
      else { delete answers[it.id]; tr.className = ""; }
      save(); progress();
    });
    c.appendChild(sel);
    tr.appendChild(n); tr.appendChild(d); tr.appendChild(c);
    body.appendChild(tr);
  });
  function field(s) { s = String(s); return /[",\\r\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
  function csv() {
    var lines = ["id,description,answer"];
    data.items.forEach(function (it) {
      lines.push([it.id, it.description, answers[it.id] || ""].map(field).join(","));
    });
    return lines.join("\\n") + "\\n";
  }
  document.getElementById("export").addEventListener("click", function () {
    var text = csv();
    document.getElementById("export-csv").value = text;
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], {type: "text/csv"}));
    a.download = data.storage_key.replace(/[^A-Za-z0-9_.-]/g, "_") + ".csv";
    document.body.appendChild(a); a.click(); a.remove();
  });
  progress();
})();
</script></body></html>
"""


def annotation_page(items: list[tuple[str, str]], vocabulary: Vocabulary, examples: list[tuple[str, str]],
                    title: str, storage_key: str) -> str:
    """The annotation page (HTML) for (id, description) items: no network, everything inline."""
    options = answer_options(vocabulary)
    for desc, answer in examples:
        if answer not in options:
            raise InputError(f"human_study.examples: answer {answer!r} of {desc!r} is not one of {options}")
    example_rows = "".join(f"<tr><td>&ldquo;{html.escape(d)}&rdquo;</td><td>&rarr; <b>{html.escape(a)}</b></td></tr>"
                           for d, a in examples)
    payload = json.dumps({"storage_key": storage_key, "options": options,
                          "items": [{"id": i, "description": d} for i, d in items]}, ensure_ascii=False)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (_PAGE.replace("__TITLE__", html.escape(title))
            .replace("__CATEGORIES__", html.escape(", ".join(options)))
            .replace("__N__", str(len(vocabulary)))
            .replace("__EXAMPLES__", example_rows)
            .replace("__DATA__", payload))


def write_annotation_page(selection_csv: str, vocabulary: str, examples: list[tuple[str, str]], title: str,
                          out_html: str) -> None:
    """The annotation page for the selected descriptions (the storage key names the selection)."""
    items = read_selection(selection_csv)
    key = "oeseg-human-study-" + hashlib.sha256("\n".join(i.id for i in items).encode()).hexdigest()[:12]
    atomic_write_text(out_html, annotation_page([(i.id, i.description) for i in items], get_vocabulary(vocabulary),
                                                [tuple(e) for e in examples], title, key))


def read_annotations(path: str | os.PathLike, vocabulary: Vocabulary) -> dict[str, tuple[str, str]]:
    """An exported CSV: id -> (description, answer); every answer must be given and valid."""
    out: dict[str, tuple[str, str]] = {}
    for lineno, r in read_csv_rows(path, ANNOTATION_FIELDS)[1]:
        where = f"{path}:{lineno}"
        if not r["answer"]:
            raise InputError(f"{where}: description {r['id']!r} has no answer: finish the annotation first")
        answer_to_category(r["answer"], vocabulary, where)
        if r["id"] in out:
            raise InputError(f"{where}: id {r['id']!r} appears twice")
        out[r["id"]] = (r["description"], r["answer"])
    return out


def annotator_agreement(first: dict[str, tuple[str, str]], second: dict[str, tuple[str, str]],
                        names: tuple[str, str] = ("annotator 1", "annotator 2")) -> dict:
    """Agreement of two annotators on the same ids: counts, percent and the disagreeing items."""
    if set(first) != set(second):
        only = sorted(set(first) ^ set(second))
        raise InputError(f"{names[0]} and {names[1]} annotated different descriptions, e.g. {only[:3]}")
    disagreements = [{"id": i, "description": first[i][0], "answer_1": first[i][1], "answer_2": second[i][1]}
                     for i in sorted(first) if first[i][1] != second[i][1]]
    n = len(first)
    return {"annotators": list(names), "n": n, "agreed": n - len(disagreements),
            "agreement_percent": 100.0 * (n - len(disagreements)) / n if n else None,
            "disagreements": disagreements}


def write_agreement(annotator_csvs: list[str], vocabulary: str, report_json: str, disagreements_csv: str) -> dict:
    """Compare two annotators' CSVs: a JSON report and the disagreements (CSV) for the second stage.

    The disagreements CSV has the annotation columns (id, description, answer) with the answer left
    empty, plus both first-stage answers; filled in, it is the resolved CSV."""
    if len(annotator_csvs) != 2:
        raise InputError(f"human_study.annotators: expected two annotator CSVs, got {len(annotator_csvs)}")
    vocab = get_vocabulary(vocabulary)
    report = annotator_agreement(read_annotations(annotator_csvs[0], vocab), read_annotations(annotator_csvs[1], vocab),
                                 (str(annotator_csvs[0]), str(annotator_csvs[1])))
    atomic_write_json(report_json, report)
    atomic_write_text(disagreements_csv, _csv_text(ANNOTATION_FIELDS + ("answer_1", "answer_2"), (
        [d["id"], d["description"], "", d["answer_1"], d["answer_2"]] for d in report["disagreements"])))
    return report


def _study_row(item: StudyItem, reference: int) -> StudyRow:
    return StudyRow(item.id, item.description, reference, item.sbert, dict(item.lexical))


def annotated_study(items: list[StudyItem], first: dict[str, tuple[str, str]], second: dict[str, tuple[str, str]],
                    resolved: dict[str, tuple[str, str]], vocabulary: Vocabulary, resolved_path: str) -> list[StudyRow]:
    """Final labels: the annotators' answer where they agree, the resolved answer elsewhere."""
    rows, unresolved = [], []
    for item in items:
        if item.id not in first or item.id not in second:
            raise InputError(f"description {item.id!r} of the selection is missing from an annotator CSV")
        a, b = first[item.id][1], second[item.id][1]
        answer = a if a == b else resolved.get(item.id, (None, None))[1]
        if answer is None:
            unresolved.append(item.id)
            continue
        rows.append(_study_row(item, answer_to_category(answer, vocabulary, f"{resolved_path}: {item.id}")))
    if unresolved:
        raise InputError(f"{resolved_path}: {len(unresolved)} disagreements are not resolved, e.g. {unresolved[:3]}")
    return rows


def write_annotated_study(selection_csv: str, annotator_csvs: list[str], resolved_csv: str, vocabulary: str,
                          out_csv: str) -> None:
    """The study table from the selection, two annotators' CSVs and the resolved disagreements."""
    vocab = get_vocabulary(vocabulary)
    first, second = (read_annotations(p, vocab) for p in annotator_csvs)
    rows = annotated_study(read_selection(selection_csv), first, second, read_annotations(resolved_csv, vocab),
                           vocab, resolved_csv)
    write_study(out_csv, rows)


def write_reference_study(selection_csv: str, out_csv: str) -> None:
    """The demo's study table: each description's reference is the ground-truth category of its region
    (the synthetic generator's own knowledge), not a human label."""
    write_study(out_csv, [_study_row(i, i.gt) for i in read_selection(selection_csv)])
