"""Table 1: the LAC scores of PQ, mIoU and AP per method and evaluation dataset (CSV, Markdown, LaTeX).

A cell is the mean over the method's runs, with the sample standard deviation where there are
several; the best mean of each column is bold. A note under the table names the cells scored on
part of a dataset's images (`oeseg evaluate --scored-images described`). In LaTeX a rule separates consecutive methods of
different groups (`methods.<name>.group`: open-vocabulary, baseline, mllm), as in the paper.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from oeseg.figures.evaluations import LAC_METRICS, Evaluation, group_runs, load_evaluation
from oeseg.io import InputError, atomic_write_text, csv_text


@dataclass(frozen=True)
class Cell:
    """Mean (and std over runs when there are several) of one LAC score, in percent."""

    mean: float
    std: float | None
    runs: int
    best: bool = False

    def text(self) -> str:
        """`48.8 ± 0.6` or `48.8`."""
        return f"{self.mean:.1f}" if self.std is None else f"{self.mean:.1f} ± {self.std:.1f}"


@dataclass(frozen=True)
class Table1:
    """Rows are methods, columns are (dataset, metric)."""

    methods: list[tuple[str, str]]       # (name, label)
    datasets: list[tuple[str, str]]      # (name, label)
    metrics: tuple[str, ...]
    cells: dict[tuple[str, str, str], Cell]   # (method, dataset, metric)
    groups: dict[str, str] = field(default_factory=dict)   # method -> group, where it has one
    #: (method, dataset) -> (fewest, most, total) images scored by its runs, where runs leave images out
    partial: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)


def build_table1(evaluations: list[Evaluation], methods: list[tuple[str, str]],
                 datasets: list[tuple[str, str]], mapping: str = "lexical",
                 metrics: tuple[str, ...] = LAC_METRICS, groups: dict[str, str] | None = None) -> Table1:
    """Aggregate the runs of every (method, dataset) and mark the best mean of each column."""
    runs_of = group_runs(evaluations, mapping)
    cells: dict[tuple[str, str, str], Cell] = {}
    partial: dict[tuple[str, str], tuple[int, int, int]] = {}
    for method, _ in methods:
        for dataset, _ in datasets:
            runs = runs_of.get((method, dataset))
            if not runs:
                raise InputError(f"Table 1: no {mapping} evaluation of method {method!r} on dataset {dataset!r}")
            counts = [e.images for e in runs if e.images is not None and e.images[0] < e.images[1]]
            if counts:
                scored = [c[0] for c in counts]
                partial[(method, dataset)] = (min(scored), max(scored), max(c[1] for c in counts))
            for metric in metrics:
                values = [e.lac[metric] for e in runs]
                std = statistics.stdev(values) if len(values) > 1 else None
                cells[(method, dataset, metric)] = Cell(statistics.fmean(values), std, len(values))
    for dataset, _ in datasets:
        for metric in metrics:
            column = [(round(cells[(m, dataset, metric)].mean, 1), m) for m, _ in methods]
            best = max(v for v, _ in column)
            for v, m in column:
                if v == best:
                    c = cells[(m, dataset, metric)]
                    cells[(m, dataset, metric)] = Cell(c.mean, c.std, c.runs, True)
    return Table1(list(methods), list(datasets), tuple(metrics), cells, dict(groups or {}), partial)


def partial_images_note(table: Table1) -> str:
    """The sentence naming the cells scored on part of a dataset's images; "" where there are none."""
    labels = dict(table.methods) | dict(table.datasets)
    parts = []
    for (method, dataset), (fewest, most, total) in table.partial.items():
        scored = str(fewest) if fewest == most else f"{fewest}-{most}"
        parts.append(f"{labels[method]} on {labels[dataset]}, {scored} of {total} images")
    return f"Scored on the images its descriptions cover: {'; '.join(parts)}." if parts else ""


def table1_csv(table: Table1) -> str:
    """One row per method and column (dataset, metric): mean, std, runs, best."""
    rows = []
    for method, label in table.methods:
        for dataset, _ in table.datasets:
            for metric in table.metrics:
                c = table.cells[(method, dataset, metric)]
                rows.append([method, label, dataset, metric, f"{c.mean:.2f}",
                             "" if c.std is None else f"{c.std:.2f}", c.runs, int(c.best)])
    return csv_text(["method", "label", "dataset", "metric", "mean", "std", "runs", "best"], rows)


def table1_markdown(table: Table1, note: str | None = None) -> str:
    """A GitHub Markdown table; best values in bold; the note, if any, in italics below."""
    header = ["Method"] + [f"{dl} {m}" for _, dl in table.datasets for m in table.metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":--"] + ["--:"] * (len(header) - 1)) + "|"]
    for method, label in table.methods:
        row = [label.replace("|", "\\|")]
        for dataset, _ in table.datasets:
            for metric in table.metrics:
                c = table.cells[(method, dataset, metric)]
                row.append(f"**{c.text()}**" if c.best else c.text())
        lines.append("| " + " | ".join(row) + " |")
    if note:
        lines += ["", f"*{note}*"]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def table1_latex(table: Table1, caption: str, note: str | None = None) -> str:
    """A booktabs `table` environment (needs \\usepackage{booktabs}); best values in bold; a rule
    between groups of methods; the note, if any, in small italics under the tabular."""
    n = len(table.metrics)
    cols = "l" + "c" * (n * len(table.datasets))
    out = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(caption)}}}", r"\label{tab:table1}",
           rf"\begin{{tabular}}{{{cols}}}", r"\toprule"]
    out.append(" & ".join(["Method"] + [rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(dl)}}}"
                                        for _, dl in table.datasets]) + r" \\")
    out.append(" ".join(rf"\cmidrule(lr){{{2 + i * n}-{1 + (i + 1) * n}}}" for i in range(len(table.datasets))))
    out.append(" & ".join([""] + [latex_escape(m) for _ in table.datasets for m in table.metrics]) + r" \\")
    out.append(r"\midrule")
    for i, (method, label) in enumerate(table.methods):
        before = table.groups.get(table.methods[i - 1][0]) if i else None
        if before and table.groups.get(method) and table.groups[method] != before:
            out.append(r"\midrule")
        row = [latex_escape(label)]
        for dataset, _ in table.datasets:
            for metric in table.metrics:
                c = table.cells[(method, dataset, metric)]
                bf = (lambda s: rf"\textbf{{{s}}}") if c.best else (lambda s: s)
                row.append(bf(f"{c.mean:.1f}") if c.std is None
                           else bf(f"{c.mean:.1f}") + r" $\pm$ " + bf(f"{c.std:.1f}"))
        out.append(" & ".join(row) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if note:
        out += [r"\par\smallskip", rf"{{\footnotesize\emph{{{latex_escape(note)}}}}}"]
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def write_table1(evaluation_paths: list[str], methods: list[tuple[str, str]], datasets: list[tuple[str, str]],
                 csv_path: str | os.PathLike, md_path: str | os.PathLike, tex_path: str | os.PathLike,
                 caption: str, mapping: str = "lexical", note: str | None = None,
                 groups: dict[str, str] | None = None) -> Table1:
    """Read the evaluations and write Table 1 as CSV, Markdown and LaTeX (the note, and which cells
    were scored on part of a dataset's images, under the last two)."""
    table = build_table1([load_evaluation(p) for p in evaluation_paths], methods, datasets, mapping,
                         groups=groups)
    note = " ".join(part for part in (note, partial_images_note(table)) if part) or None
    atomic_write_text(csv_path, table1_csv(table))
    atomic_write_text(md_path, table1_markdown(table, note))
    atomic_write_text(tex_path, table1_latex(table, caption, note))
    return table
