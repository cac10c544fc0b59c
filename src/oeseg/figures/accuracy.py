"""Figures 1, 3 and 8: the mappings against reference (human) labels, from study tables.

Each figure takes one or more sources of mappings (a study table each, `oeseg.human_study.table`):
the demo's or the annotators' study, or the paper's published study with the paper's mappings and
ours.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.figures.style import LEVEL_LABELS, add_note, category_label, save_figure, wrap
from oeseg.human_study.table import GROUPS, StudyRow, read_study, study_accuracy
from oeseg.io import InputError, atomic_write_json
from oeseg.lexicon.lexicon import LEVELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def pick_examples(rows: list[StudyRow], n: int, seed: int, key: Callable[[StudyRow], bool]) -> list[StudyRow]:
    """Up to n rows with distinct descriptions, reproducibly sampled: first those where key(row)
    holds, then the others."""
    rng = random.Random(seed)
    preferred = [r for r in rows if key(r)]
    others = [r for r in rows if not key(r)]
    rng.shuffle(preferred)
    rng.shuffle(others)
    chosen, seen = [], set()
    for r in preferred + others:
        if r.description not in seen and len(chosen) < n:
            seen.add(r.description)
            chosen.append(r)
    return chosen


def _example_table(ax: Axes, header: list[str], cells: list[list[str]], colors: list[list[str]], title: str) -> None:
    """Draw a table of example descriptions (cells coloured by `colors`) titled `title` on `ax`."""
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=header, cellColours=colors, loc="upper center", cellLoc="left",
                     colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    ncols = len(header)
    widths = [0.42] + [0.58 / (ncols - 1)] * (ncols - 1)
    header_lines = max(h.count("\n") + 1 for h in header)
    for (r, c), cell in table.get_celld().items():
        cell.set_width(widths[c])
        cell.set_height(0.075 if r else 0.03 + 0.03 * header_lines)
        if r == 0:
            cell.set_text_props(weight="bold")
    ax.set_title(title, loc="left")


GOOD, BAD, PLAIN = "#d9f0d3", "#f4cccc", "#ffffff"


def plot_fig1(sources: dict[str, list[StudyRow]], vocabulary: Vocabulary, n_examples: int = 8, seed: int = 0,
              reference_label: str = "Human", note: str | None = None) -> plt.Figure:
    """Figure 1: Sentence-BERT mapping examples vs the reference category (left) and its error (right)."""
    first = next(iter(sources.values()))
    examples = pick_examples(first, n_examples, seed, key=lambda r: r.sbert != r.reference)
    fig, (ax_t, ax_b) = plt.subplots(1, 2, figsize=(11, 0.45 * n_examples + 1.8), width_ratios=[2.3, 1])
    cells, colors = [], []
    for r in examples:
        cells.append([wrap(r.description, 48), category_label(r.sbert, vocabulary),
                      category_label(r.reference, vocabulary, "none")])
        colors.append([PLAIN, GOOD if r.sbert == r.reference else BAD, PLAIN])
    _example_table(ax_t, ["Description", "Sentence-BERT", f"{reference_label} category"], cells, colors,
                   f"(a) Sentence-BERT mappings to {vocabulary.name}")
    names = list(sources)
    agree = [study_accuracy(rows, vocabulary)["sbert"]["all"] for rows in sources.values()]
    x = np.arange(len(names))
    ax_b.bar(x - 0.2, agree, 0.4, color="#4c9f70", label="agrees")
    ax_b.bar(x + 0.2, [100 - a for a in agree], 0.4, color="#c0504d", label="error")
    for xi, a in zip(x, agree):
        ax_b.annotate(f"{a:.1f}", (xi - 0.2, a), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
        ax_b.annotate(f"{100 - a:.1f}", (xi + 0.2, 100 - a), xytext=(0, 2), textcoords="offset points",
                      ha="center", fontsize=8)
    ax_b.set_xticks(x, [wrap(f"{n} (n={len(sources[n])})", 16) for n in names])
    ax_b.set_ylim(0, 105)
    ax_b.set_ylabel(f"Share of descriptions (%) vs {reference_label.lower()} labels")
    ax_b.set_title("(b) Sentence-BERT vs reference")
    ax_b.legend(frameon=False, loc="upper right")
    fig.tight_layout()
    add_note(fig, note)
    return fig


def _region_gt_axis_label(lacking: list[str], n_sources: int) -> str:
    """Figure 3(c)'s axis label: the region's ground-truth priority, or (a)'s mapping for the sources
    in `lacking`, which have no region labels."""
    if not lacking:
        return "Lexical level (ground-truth priority)"
    if len(lacking) == n_sources:
        return "Lexical level (no region ground truth: (a)'s mapping)"
    return f"Lexical level (ground-truth priority; {', '.join(lacking)}: (a)'s mapping)"


def plot_fig3(sources: dict[str, list[StudyRow]], vocabulary: Vocabulary, reference_label: str = "human",
              note: str | None = None) -> plt.Figure:
    """Figure 3: (a) both mappings' accuracy by things/stuff, (b) where they differ, (c) lexical per level.

    (a) and (b) score the lexical mapping with the reference label as the ground-truth priority,
    (c) the one with the region's ground truth as the priority; a source without region labels (the
    published study) has none, and (c) shows (a)'s mapping for it, as its axis label says."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    acc = {name: study_accuracy(rows, vocabulary) for name, rows in sources.items()}
    hatches = ["", "//", "..", "xx"]
    n_bars = 2 * len(sources)
    width = 0.8 / n_bars

    def bar(ax: Axes, xs: np.ndarray, values: Sequence[float | None], offset: float, color: str, hatch: str,
            label: str) -> None:
        """One series of bars at xs + offset, each labelled with its value (None: no bar)."""
        vals = [np.nan if v is None else v for v in values]
        bars = ax.bar(xs + offset, vals, width, color=color, hatch=hatch, edgecolor="k", linewidth=0.5, label=label)
        for b, v in zip(bars, vals):
            if not np.isnan(v):
                ax.annotate(f"{v:.1f}", (b.get_x() + b.get_width() / 2, v), xytext=(0, 2), textcoords="offset points",
                            ha="center", fontsize=7, rotation=90 if n_bars > 2 else 0)

    ax = axes[0]
    x = np.arange(len(GROUPS))
    for i, (name, a) in enumerate(acc.items()):
        suffix = f" ({name})" if len(sources) > 1 else ""
        bar(ax, x, [a["sbert"][g] for g in GROUPS], (2 * i - n_bars / 2 + 0.5) * width, "#c0504d", hatches[i],
            "Sentence-BERT" + suffix)
        bar(ax, x, [a["lexical"]["meronym"][g] for g in GROUPS], (2 * i + 1 - n_bars / 2 + 0.5) * width, "#4f81bd",
            hatches[i], "Lexical (any level)" + suffix)
    first = next(iter(acc.values()))
    ax.set_xticks(x, [f"{g}\n(n={first['n'][g]})" for g in GROUPS])
    ax.set_title("(a) Accuracy by category type")

    ax = axes[1]
    x = np.arange(len(LEVELS))
    for i, (name, a) in enumerate(acc.items()):
        suffix = f" ({name})" if len(sources) > 1 else ""
        bar(ax, x, [a["differ"]["sbert"]] * len(LEVELS), (2 * i - n_bars / 2 + 0.5) * width, "#c0504d",
            hatches[i], "Sentence-BERT" + suffix)
        bar(ax, x, [a["differ"]["lexical"][lv] for lv in LEVELS], (2 * i + 1 - n_bars / 2 + 0.5) * width,
            "#4f81bd", hatches[i], "Lexical" + suffix)
    ax.set_xticks(x, [LEVEL_LABELS[lv] for lv in LEVELS])
    ax.set_xlabel(f"Lexical level (n={'/'.join(str(a['differ']['n']) for a in acc.values())} descriptions)")
    ax.set_title("(b) Where the two mappings differ")

    ax = axes[2]
    colors = {"all": "k", "things": "#4f81bd", "stuff": "#9bbb59"}
    styles = ["-", "--", ":", "-."]
    for i, (name, a) in enumerate(acc.items()):
        for g in GROUPS:
            suffix = f" ({name})" if len(sources) > 1 else ""
            per_level = a["lexical"] if a["lexical_region_gt"] is None else a["lexical_region_gt"]
            ax.plot(x, [np.nan if per_level[lv][g] is None else per_level[lv][g] for lv in LEVELS],
                    marker="o", color=colors[g], linestyle=styles[i], label=f"{g}{suffix}")
    ax.set_xticks(x, [LEVEL_LABELS[lv] for lv in LEVELS])
    ax.set_xlabel(_region_gt_axis_label([name for name, a in acc.items() if a["lexical_region_gt"] is None],
                                        len(acc)))
    ax.set_title("(c) Lexical mapping accuracy per level")
    for ax in axes:
        ax.set_ylim(0, 135)
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel(f"Accuracy vs {reference_label} labels (%)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(frameon=False, fontsize=7, loc="upper left", ncol=2 if len(sources) > 1 else 1)
    fig.tight_layout()
    add_note(fig, note)
    return fig


def plot_fig8(sources: dict[str, list[StudyRow]], vocabulary: Vocabulary, n_examples: int = 10, seed: int = 0,
              reference_label: str = "Human", note: str | None = None) -> plt.Figure:
    """Figure 8: descriptions with Sentence-BERT's and the lexical (meronym level, the reference label as
    the priority) mapping and the reference."""
    names = list(sources)
    by_id = [{r.id: r for r in rows} for rows in sources.values()]
    first = sources[names[0]]
    examples = pick_examples([r for r in first if all(r.id in b for b in by_id)], n_examples, seed,
                             key=lambda r: r.sbert != r.lexical["meronym"])
    header = ["Description"]
    for name in names:
        suffix = f" ({name})" if len(names) > 1 else ""
        header += ["Sentence-\nBERT" + suffix.replace(" ", "\n"), "Lexical" + suffix.replace(" ", "\n")]
    header.append(f"{reference_label}\ncategory")
    cells, colors = [], []
    for r in examples:
        row, col = [wrap(r.description, 44)], [PLAIN]
        for b in by_id:
            s = b[r.id]
            for value in (s.sbert, s.lexical["meronym"]):
                row.append(category_label(value, vocabulary))
                col.append(GOOD if value == r.reference else BAD)
        row.append(category_label(r.reference, vocabulary, "none"))
        col.append(PLAIN)
        cells.append(row)
        colors.append(col)
    fig, ax = plt.subplots(figsize=(6 + 2.2 * len(names), 0.5 * n_examples + 1.2))
    _example_table(ax, header, cells, colors,
                   f"Sentence-BERT vs lexical mapping to {vocabulary.name} (bg = background; "
                   "green: agrees with the reference)")
    add_note(fig, note)
    return fig


def _load_sources(study_paths: dict[str, str], vocabulary: Vocabulary) -> dict[str, list[StudyRow]]:
    """The study tables by source name; InputError for an empty one."""
    sources = {name: read_study(path, vocabulary) for name, path in study_paths.items()}
    for name, rows in sources.items():
        if not rows:
            raise InputError(f"{study_paths[name]}: the study table is empty")
    return sources


def write_fig1(study_paths: dict[str, str], vocabulary: str, pdf: str, png: str, n_examples: int = 8,
               seed: int = 0, reference_label: str = "Human", note: str | None = None) -> None:
    """Figure 1 (PDF, PNG) from study tables, one per source of mappings."""
    vocab = get_vocabulary(vocabulary)
    save_figure(plot_fig1(_load_sources(study_paths, vocab), vocab, n_examples, seed, reference_label, note),
                pdf, png)


def write_fig3(study_paths: dict[str, str], vocabulary: str, pdf: str, png: str, accuracy_json: str,
               reference_label: str = "Human", note: str | None = None) -> dict:
    """Figure 3 (PDF, PNG) and the accuracies behind it (JSON) from study tables."""
    vocab = get_vocabulary(vocabulary)
    sources = _load_sources(study_paths, vocab)
    accuracy = {name: study_accuracy(rows, vocab) for name, rows in sources.items()}
    atomic_write_json(accuracy_json, accuracy)
    save_figure(plot_fig3(sources, vocab, reference_label.lower(), note), pdf, png)
    return accuracy


def write_fig8(study_paths: dict[str, str], vocabulary: str, pdf: str, png: str, n_examples: int = 10,
               seed: int = 0, reference_label: str = "Human", note: str | None = None) -> None:
    """Figure 8 (PDF, PNG) from study tables, one per source of mappings."""
    vocab = get_vocabulary(vocabulary)
    save_figure(plot_fig8(_load_sources(study_paths, vocab), vocab, n_examples, seed, reference_label, note),
                pdf, png)

