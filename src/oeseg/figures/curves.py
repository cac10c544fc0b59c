"""Lexical Alignment Curves (Figures 4 and 12) and box plots of LAC scores over runs (Figure 11)."""

from __future__ import annotations

import os

import numpy as np
import matplotlib.pyplot as plt

from oeseg.figures.evaluations import Evaluation, group_runs, load_evaluation
from oeseg.figures.style import LEVEL_LABELS, add_note, save_figure
from oeseg.io import InputError
from oeseg.metrics.lac import lac_positions

METRIC_LABELS = {"PQ": "PQ (%)", "mIoU": "mIoU (%)", "AP": "AP (%)"}


def _runs(groups: dict, method: str, dataset: str) -> list[Evaluation]:
    """The evaluations of `method` on `dataset`; InputError when there are none."""
    runs = groups.get((method, dataset))
    if not runs:
        raise InputError(f"no evaluation of method {method!r} on dataset {dataset!r}")
    return runs


def plot_lac_curves(evaluations: list[Evaluation], methods: list[tuple[str, str]],
                    datasets: list[tuple[str, str]], metrics: list[str], mapping: str = "lexical",
                    note: str | None = None) -> plt.Figure:
    """One panel per (metric, dataset): each method's metric at the levels, spaced evenly on [0, 1].

    Methods with several runs show their mean with a band from the lowest to the highest run."""
    groups = group_runs(evaluations, mapping)
    fig, axes = plt.subplots(len(metrics), len(datasets), figsize=(4.6 * len(datasets), 3.6 * len(metrics)),
                             squeeze=False)
    colors = plt.get_cmap("tab10")
    for r, metric in enumerate(metrics):
        for c, (dataset, dlabel) in enumerate(datasets):
            ax = axes[r][c]
            for i, (method, label) in enumerate(methods):
                runs = _runs(groups, method, dataset)
                curves = np.array([e.curve(metric) for e in runs])
                levels = runs[0].levels
                x = lac_positions(len(levels))
                lac = float(np.mean([e.lac[metric] for e in runs]))
                ax.plot(x, curves.mean(axis=0), marker="o", color=colors(i % 10),
                        label=f"{label} (LAC {lac:.1f})")
                if len(runs) > 1:
                    ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=colors(i % 10), alpha=0.2)
            ax.set_xticks(x, [LEVEL_LABELS.get(lv, lv) for lv in levels])
            ax.set_xlim(-0.05, 1.05)
            ax.set_xlabel("Lexical level")
            ax.set_ylabel(METRIC_LABELS.get(metric, metric))
            ax.set_title(f"({chr(97 + r * len(datasets) + c)}) {dlabel}: {metric}")
            ax.grid(alpha=0.3)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, fontsize=8, ncol=2)  # below
    fig.tight_layout()
    add_note(fig, note)
    return fig


def plot_lac_boxplots(evaluations: list[Evaluation], methods: list[tuple[str, str]],
                      datasets: list[tuple[str, str]], metric: str = "PQ", mapping: str = "lexical",
                      note: str | None = None) -> plt.Figure:
    """One panel per dataset: a box of the LAC score over each method's runs, with the runs as dots."""
    groups = group_runs(evaluations, mapping)
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.2 + 1.3 * len(methods) * len(datasets), 3.8),
                             squeeze=False)
    for c, (dataset, dlabel) in enumerate(datasets):
        ax = axes[0][c]
        data = [[e.lac[metric] for e in _runs(groups, m, dataset)] for m, _ in methods]
        ax.boxplot(data, tick_labels=[label for _, label in methods], widths=0.5)
        for i, values in enumerate(data):
            ax.scatter(np.full(len(values), i + 1.0), values, s=14, color="k", zorder=3, alpha=0.7)
            if len(values) > 1:
                ax.annotate(f"σ = {np.std(values, ddof=1):.2f}", (i + 1.0, max(values)), xytext=(0, 6),
                            textcoords="offset points", ha="center", fontsize=8)
        ax.set_ylabel(f"LAC score of {METRIC_LABELS.get(metric, metric)}")
        ax.set_xlabel(f"Method (dots: runs; n = {', '.join(str(len(d)) for d in data)})")
        ax.set_title(f"({chr(97 + c)}) {dlabel}")
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.15)
    fig.tight_layout()
    add_note(fig, note)
    return fig


def write_lac_curves(evaluation_paths: list[str], methods: list[tuple[str, str]], datasets: list[tuple[str, str]],
                     metrics: list[str], pdf: str | os.PathLike, png: str | os.PathLike,
                     mapping: str = "lexical", note: str | None = None) -> None:
    """Figures 4 (metrics [PQ]) and 12 (metrics [AP, mIoU]) from the RESULTS.json files of `mapping`."""
    fig = plot_lac_curves([load_evaluation(p) for p in evaluation_paths], methods, datasets, metrics,
                          mapping=mapping, note=note)
    save_figure(fig, pdf, png)


def write_lac_boxplots(evaluation_paths: list[str], methods: list[tuple[str, str]],
                       datasets: list[tuple[str, str]], metric: str, pdf: str | os.PathLike,
                       png: str | os.PathLike, mapping: str = "lexical", note: str | None = None) -> None:
    """Figure 11 from the RESULTS.json files of the variance runs scored with `mapping`."""
    fig = plot_lac_boxplots([load_evaluation(p) for p in evaluation_paths], methods, datasets, metric,
                            mapping=mapping, note=note)
    save_figure(fig, pdf, png)
