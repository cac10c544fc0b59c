"""The annotation page and the annotators' answers (paper Appendix C.1, Figure 7).

`annotation_page`: one self-contained HTML page (inline JS/CSS) to label descriptions: instructions
and examples as in the paper's Figure 7, a drop-down of the categories plus "None of the above",
progress, answers kept in the browser's localStorage (by annotator name, id and description, shared
by the page's tabs), export as CSV (`id, description, answer`), which the page imports again.
`write_annotation_page` makes the first stage's page of the selected descriptions (its CSVs are
read back by `read_annotations`, checked against the selection); `write_second_stage_page` the
second stage's page of the disagreements alone, without the first stage's answers (its CSVs are
`human_study.resolved`'s).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import random
from collections.abc import Mapping, Sequence

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.human_study.selection import StudyItem, read_selection
from oeseg.io import InputError, atomic_write_text, read_csv_rows
from oeseg.mapping import BACKGROUND


NONE_OF_THE_ABOVE = "None of the above"


ANNOTATION_FIELDS = ("id", "description", "answer")


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
.warning{color:#a00;font-weight:bold}
</style></head><body>
<h1>__TITLE__</h1>
<div class="instructions">
__NOTE__<p>You will see a sentence describing a visual entity (such as an object, animal, body part, etc.). You must
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
<p>First enter your name: your answers are saved in this browser under it as you go (in every tab of this page,
so people sharing this browser keep their own answers), and the exported file's name carries it. Come back to
this page, under the same name, to continue. When done, press <i>Export CSV</i> and send the downloaded file. To continue in another browser, or
after the browser's data was cleared, open the page there and <i>Import CSV</i> a file you exported: it fills in
the descriptions without an answer.</p>
</div>
<div class="sticky"><label for="annotator">Your name:</label>
<input id="annotator" autocomplete="off" placeholder="your name"> <span id="who" role="status"></span><br>
<label for="progress-bar">Progress: <span id="progress-text"></span></label>
<progress id="progress-bar" value="0" max="1"></progress>
<button id="export">Export CSV</button>
<label for="import">Import CSV:</label> <input type="file" id="import" accept=".csv,text/csv">
<p id="save-warning" class="warning" role="alert" hidden></p>
<p id="legacy" hidden><span id="legacy-text"></span> <button id="legacy-take">Take them as my answers</button></p>
<p id="status" role="status"></p></div>
<table class="items"><thead><tr><th>#</th><th>Description</th><th>Category</th></tr></thead>
<tbody id="items"></tbody></table>
<h2>Exported CSV</h2><textarea id="export-csv" readonly></textarea>
<script type="application/json" id="study-data">__DATA__</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("study-data").textContent);
  // the annotator's answers are stored under data.storage_key + "@" + their name: annotators
  // sharing a browser profile (and the two stages' pages, whose storage keys differ) never mix
  var annotator = "", key = null;
  // one stored entry per answer, named by the description's id and text: a tab's write never
  // overwrites another tab's answers, a page whose description of an id differs does not show it,
  // and a page of other descriptions keeps the answers of those it shares
  function entry(id, description) { return key + "\\n" + id + "\\n" + description; }
  // an older page stored its answers under data.legacy_key alone, without a name
  function legacyEntry(it) { return data.legacy_key + "\\n" + it.id + "\\n" + it.description; }
  var answers = {};
  function restore() {
    answers = {};
    if (!key) { return; }
    try {
      data.items.forEach(function (it) {
        var answer = window.localStorage.getItem(entry(it.id, it.description));
        if (data.options.indexOf(answer) >= 0) { answers[it.id] = answer; }
      });
    } catch (e) { answers = {}; }
  }
  function save(items) {
    var warning = document.getElementById("save-warning");
    try {
      items.forEach(function (it) {
        if (answers[it.id]) { window.localStorage.setItem(entry(it.id, it.description), answers[it.id]); }
        else { window.localStorage.removeItem(entry(it.id, it.description)); }
      });
      warning.hidden = true;
      return true;
    } catch (e) {
      warning.textContent = "Your answers are NOT being saved in this browser (" + e.name + "): press Export CSV " +
        "now and keep the file; Import CSV restores it.";
      warning.hidden = false;
      return false;
    }
  }
  function progress() {
    var done = data.items.filter(function (it) { return answers[it.id]; }).length;
    document.getElementById("progress-text").textContent =
      done + " / " + data.items.length + " annotated (" + Math.round(100 * done / data.items.length) + " %)";
    var bar = document.getElementById("progress-bar");
    bar.max = data.items.length; bar.value = done;
  }
  var body = document.getElementById("items");
  var rows = data.items.map(function (it, i) {
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
    sel.addEventListener("change", function () {
      if (sel.value) { answers[it.id] = sel.value; } else { delete answers[it.id]; }
      tr.className = sel.value ? "done" : "";
      save([it]); progress();
    });
    c.appendChild(sel);
    tr.appendChild(n); tr.appendChild(d); tr.appendChild(c);
    body.appendChild(tr);
    return {item: it, tr: tr, select: sel};
  });
  function show() {
    rows.forEach(function (r) {
      var answer = answers[r.item.id] || "";
      r.select.value = answer; r.tr.className = answer ? "done" : "";
    });
    progress();
  }
  function legacyAnswers() {
    // the answers an older page stored without a name, to this page's descriptions
    var found = [];
    if (!key || !data.legacy_key) { return found; }
    try {
      data.items.forEach(function (it) {
        var answer = window.localStorage.getItem(legacyEntry(it));
        if (data.options.indexOf(answer) >= 0) { found.push({item: it, answer: answer}); }
      });
    } catch (e) { found = []; }
    return found;
  }
  function offerLegacy() {
    var n = legacyAnswers().length;
    document.getElementById("legacy-text").textContent = n + " answers to these descriptions were saved in this " +
      "browser by an earlier version of this page, which did not ask for a name. If they are yours:";
    document.getElementById("legacy").hidden = !n;
  }
  document.getElementById("legacy-take").addEventListener("click", function () {
    var filled = [], kept = 0, found = legacyAnswers();
    found.forEach(function (f) {
      if (!answers[f.item.id]) { answers[f.item.id] = f.answer; filled.push(f.item); }
      else if (answers[f.item.id] !== f.answer) { kept++; }
    });
    if (save(filled)) {  // taken over once: not offered to the next name
      try { found.forEach(function (f) { window.localStorage.removeItem(legacyEntry(f.item)); }); } catch (e) { }
    }
    show(); offerLegacy();
    document.getElementById("status").textContent = filled.length + " answers of the earlier page taken over as " +
      annotator + "'s" + (kept ? "; " + kept + " descriptions already answered otherwise here kept their answer" : "") +
      ".";
  });
  var nameInput = document.getElementById("annotator");
  function setAnnotator(name) {
    annotator = String(name || "").replace(/\\s+/g, " ").trim();
    key = annotator ? data.storage_key + "@" + annotator : null;
    nameInput.value = annotator;
    try {  // kept for this tab (a reload), not for the browser: the next person enters their own
      if (annotator) { window.sessionStorage.setItem(data.storage_key + " annotator", annotator); }
      else { window.sessionStorage.removeItem(data.storage_key + " annotator"); }
    } catch (e) { }
    rows.forEach(function (r) { r.select.disabled = !key; });
    document.getElementById("export").disabled = !key;
    document.getElementById("import").disabled = !key;
    document.getElementById("who").textContent = key ? "answering as " + annotator :
      "enter your name to start (each name has its own answers in this browser)";
    document.getElementById("status").textContent = "";
    restore(); show(); offerLegacy();
  }
  nameInput.addEventListener("change", function () { setAnnotator(nameInput.value); });
  window.addEventListener("storage", function (e) {
    // no page's change (url ""): the browser's storage restarted and lost its latest writes (Chromium
    // tells each lost value as removed): this tab writes its answers that are not stored again
    if (key && e.url === "") {
      try {
        save(data.items.filter(function (it) {
          return answers[it.id] && window.localStorage.getItem(entry(it.id, it.description)) === null;
        }));
      } catch (err) { }
    }
    // another tab answered (or the storage was cleared)
    if (key && (e.key === null || e.key.indexOf(key + "\\n") === 0)) { restore(); show(); }
    if (e.key === null || (data.legacy_key && e.key.indexOf(data.legacy_key + "\\n") === 0)) { offerLegacy(); }
  });
  function field(s) { s = String(s); return /[",\\r\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
  function csv() {
    var lines = ["id,description,answer"];
    data.items.forEach(function (it) {
      lines.push([it.id, it.description, answers[it.id] || ""].map(field).join(","));
    });
    return lines.join("\\n") + "\\n";
  }
  function parseCsv(text) {
    // RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks
    var records = [], record = [], value = "", quoted = false, i;
    for (i = 0; i < text.length; i++) {
      var ch = text[i];
      if (quoted) {
        if (ch !== '"') { value += ch; }
        else if (text[i + 1] === '"') { value += '"'; i++; }
        else { quoted = false; }
      } else if (ch === '"') { quoted = true; }
      else if (ch === ",") { record.push(value); value = ""; }
      else if (ch === "\\n" || ch === "\\r") {
        if (ch === "\\r" && text[i + 1] === "\\n") { i++; }
        record.push(value); records.push(record); record = []; value = "";
      } else { value += ch; }
    }
    if (value || record.length) { record.push(value); records.push(record); }
    return records;
  }
  function importCsv(name, text) {
    var records = parseCsv(text.replace(/^\\ufeff/, ""));
    var header = records.shift() || [];
    var col = {id: header.indexOf("id"), description: header.indexOf("description"), answer: header.indexOf("answer")};
    if (col.id < 0 || col.description < 0 || col.answer < 0) {
      return name + ": not an exported CSV (it needs the columns id, description and answer); nothing imported.";
    }
    var byEntry = {};
    data.items.forEach(function (it) { byEntry[entry(it.id, it.description)] = it; });
    if (data.own_export_only) {  // the second stage: another page's export would carry its answers in
      var foreign = records.filter(function (r) {
        return r.length > 1 && !byEntry[entry(r[col.id], r[col.description])];
      }).length;
      if (foreign) {
        return name + ": " + foreign + " rows are of descriptions not on this page: an export of another " +
          "page (the first stage's?) would bring its answers into this independent re-annotation; nothing imported.";
      }
    }
    var filled = [], kept = 0, skipped = 0;
    records.forEach(function (r) {
      var it = byEntry[entry(r[col.id], r[col.description])], answer = r[col.answer];
      if (!answer) { return; }
      if (!it || data.options.indexOf(answer) < 0) { skipped++; }
      else if (!answers[it.id]) { answers[it.id] = answer; filled.push(it); }
      else if (answers[it.id] !== answer) { kept++; }
    });
    save(filled); show();
    return name + ": " + filled.length + " answers imported" +
      (kept ? "; " + kept + " descriptions already answered otherwise here kept their answer" : "") +
      (skipped ? "; " + skipped + " rows skipped (a description not on this page, or an answer not in the list)" : "") +
      ".";
  }
  document.getElementById("import").addEventListener("change", function () {
    var input = this, file = input.files[0], reader = new FileReader();
    if (!file) { return; }
    var status = document.getElementById("status");
    reader.onload = function () { status.textContent = importCsv(file.name, String(reader.result)); input.value = ""; };
    reader.onerror = function () { status.textContent = file.name + ": could not be read; nothing imported."; };
    reader.readAsText(file, "utf-8");
  });
  document.getElementById("export").addEventListener("click", function () {
    var text = csv();
    document.getElementById("export-csv").value = text;
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], {type: "text/csv"}));
    a.download = (data.storage_key + "-" + annotator).replace(/[^A-Za-z0-9_.-]/g, "_") + ".csv";
    document.body.appendChild(a); a.click(); a.remove();
  });
  // the name: ?annotator=NAME (or #annotator=NAME) in the page's address, else this tab's last one
  var given = new URLSearchParams(window.location.search).get("annotator") ||
    new URLSearchParams(window.location.hash.replace(/^#/, "")).get("annotator");
  if (!given) { try { given = window.sessionStorage.getItem(data.storage_key + " annotator"); } catch (e) { } }
  setAnnotator(given);
})();
</script></body></html>
"""


def storage_key(vocabulary: str, stage: int = 1) -> str:
    """The base of a page's localStorage keys (an annotator's answers: `<base>@<name>`): of the
    vocabulary, so that a new page for another selection shows those of the descriptions it shares,
    and of the stage, so that the second stage's answers never mix with the first's. The first
    stage's base is the key under which a page that asked for no name stored its answers."""
    return f"oeseg-human-study-{vocabulary}" if stage == 1 else f"oeseg-human-study-stage{stage}-{vocabulary}"


def annotation_page(items: list[tuple[str, str]], vocabulary: Vocabulary, examples: list[tuple[str, str]],
                    title: str, storage_key: str, note: str = "", legacy_key: str | None = None,
                    own_export_only: bool = False) -> str:
    """The annotation page (HTML) for (id, description) items: no network, everything inline.

    Each annotator's answers are stored under `storage_key@<their name>`; `note` is a paragraph
    above the instructions; a page with a `legacy_key` offers the answers an older page stored
    under that key (without a name) to the first name that takes them; one with `own_export_only`
    imports no CSV that answers descriptions it does not list (another page's export)."""
    options = answer_options(vocabulary)
    for desc, answer in examples:
        if answer not in options:
            raise InputError(f"human_study.examples: answer {answer!r} of {desc!r} is not one of {options}")
    example_rows = "".join(f"<tr><td>&ldquo;{html.escape(d)}&rdquo;</td><td>&rarr; <b>{html.escape(a)}</b></td></tr>"
                           for d, a in examples)
    payload = json.dumps({"storage_key": storage_key, "legacy_key": legacy_key, "own_export_only": own_export_only,
                          "options": options,
                          "items": [{"id": i, "description": d} for i, d in items]}, ensure_ascii=False)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (_PAGE.replace("__TITLE__", html.escape(title))
            .replace("__NOTE__", f'<p class="stage"><b>{html.escape(note)}</b></p>\n' if note else "")
            .replace("__CATEGORIES__", html.escape(", ".join(options)))
            .replace("__N__", str(len(vocabulary)))
            .replace("__EXAMPLES__", example_rows)
            .replace("__DATA__", payload))


def _shuffled(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(id, description) items in an order shuffled by their ids: not grouped by the method that
    wrote them (ids start with it), the same on a rerun."""
    order_seed = "oeseg-human-study-" + hashlib.sha256("\n".join(i for i, _ in items).encode()).hexdigest()[:12]
    items = list(items)
    random.Random(order_seed).shuffle(items)
    return items


def write_annotation_page(selection_csv: str, vocabulary: str, examples: list[tuple[str, str]], title: str,
                          out_html: str) -> None:
    """The first stage's annotation page of the selected descriptions (shuffled). Answers an older
    page stored without a name are offered to the first name that takes them."""
    vocab = get_vocabulary(vocabulary)
    items = _shuffled([(i.id, i.description) for i in read_selection(selection_csv, vocab)])
    atomic_write_text(out_html, annotation_page(items, vocab, [tuple(e) for e in examples], title,
                                                storage_key(vocab.name), legacy_key=storage_key(vocab.name)))


SECOND_STAGE_NOTE = ("Second stage: these are the descriptions on which the first stage's annotators disagreed. "
                     "Label each one again on your own, following the same instructions, without consulting the "
                     "other annotators or the first stage's answers.")


def write_second_stage_page(disagreements_csv: str, vocabulary: str, examples: list[tuple[str, str]], title: str,
                            out_html: str) -> None:
    """The second stage's annotation page: the descriptions of the disagreements CSV (rule
    human_study_agreement) alone, shuffled, without the first stage's answers, under a title
    and a note that say it is the second stage, its answers stored apart from the first stage's.
    Its export answers every disagreement: a CSV of `human_study.resolved` (`resolve_disagreements`)."""
    vocab = get_vocabulary(vocabulary)
    items, seen = [], set()
    for lineno, r in read_csv_rows(disagreements_csv, ("id", "description"))[1]:
        if r["id"] in seen:
            raise InputError(f"{disagreements_csv}:{lineno}: id {r['id']!r} appears twice")
        seen.add(r["id"])
        items.append((r["id"], r["description"]))
    if not items:
        raise InputError(f"{disagreements_csv}: no disagreements (the annotators agree on every description): the "
                         "second stage has nothing to annotate; leave human_study.resolved unset (null)")
    atomic_write_text(out_html, annotation_page(_shuffled(items), vocab, [tuple(e) for e in examples],
                                                f"{title}: second stage", storage_key(vocab.name, stage=2),
                                                note=SECOND_STAGE_NOTE, own_export_only=True))


def read_answers(path: str | os.PathLike, vocabulary: Vocabulary, descriptions: Mapping[str, str],
                 scope: str) -> dict[str, str]:
    """An annotation CSV's answers (id -> answer) to the descriptions of `scope` (`descriptions`: id ->
    the description shown); an id or description not of `scope`, a repeated id, an empty answer or one
    not in the drop-down is an InputError naming the file and line."""
    answers: dict[str, str] = {}
    for lineno, r in read_csv_rows(path, ANNOTATION_FIELDS)[1]:
        where = f"{path}:{lineno}"
        if r["id"] not in descriptions:
            raise InputError(f"{where}: id {r['id']!r} is not one of {scope}")
        if r["id"] in answers:
            raise InputError(f"{where}: id {r['id']!r} appears twice")
        if r["description"] != descriptions[r["id"]]:
            raise InputError(f"{where}: description {r['description']!r} of {r['id']!r} is not the one of {scope} "
                             f"({descriptions[r['id']]!r})")
        if not r["answer"]:
            raise InputError(f"{where}: description {r['id']!r} has no answer: finish the annotation first")
        answer_to_category(r["answer"], vocabulary, where)
        answers[r["id"]] = r["answer"]
    return answers


def read_annotations(path: str | os.PathLike, vocabulary: Vocabulary, items: Sequence[StudyItem],
                     selection: str | os.PathLike) -> dict[str, str]:
    """An annotator's exported CSV of the selected `items` (read from `selection`): id -> answer, every
    item answered, with the description the selection has."""
    answers = read_answers(path, vocabulary, {i.id: i.description for i in items}, f"the selection {selection}")
    missing = [i.id for i in items if i.id not in answers]
    if missing:
        raise InputError(f"{path}: {len(missing)} of the {len(items)} descriptions of the selection {selection} are "
                         f"missing, e.g. {missing[:3]}: export the CSV from the annotation page of this selection")
    return answers
