"""Shared matplotlib set-up (Agg backend) and figure saving for every figure module."""

from __future__ import annotations

import io
import os
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from oeseg.data.vocabularies import Vocabulary  # noqa: E402
from oeseg.io import atomic_write_bytes  # noqa: E402
from oeseg.mapping import BACKGROUND  # noqa: E402

plt.rcParams.update({
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "pdf.fonttype": 42,
    "svg.hashsalt": "oeseg",
})

PNG_DPI = 150
LEVEL_LABELS = {"exact": "Exact", "synonym": "Synonym", "hyponym": "Hyponym", "meronym": "Meronym"}


def save_figure(fig: Figure, pdf: str | os.PathLike, png: str | os.PathLike) -> None:
    """Write a figure as PDF and PNG atomically (no creation date in the PDF) and close it."""
    for path, kwargs in ((pdf, {"format": "pdf", "metadata": {"CreationDate": None}}),
                         (png, {"format": "png", "dpi": PNG_DPI})):
        buf = io.BytesIO()
        fig.savefig(buf, bbox_inches="tight", **kwargs)
        atomic_write_bytes(path, buf.getvalue())
    plt.close(fig)


def category_label(category_id: int, vocabulary: Vocabulary, none: str = "bg") -> str:
    """A category's display name in a figure, `none` for BACKGROUND."""
    return none if category_id == BACKGROUND else vocabulary.by_id(category_id).display_name


def wrap(text: str, width: int) -> str:
    """Wrap text for a figure label."""
    return "\n".join(textwrap.wrap(text, width)) or text


def add_note(fig: Figure, note: str | None) -> None:
    """Print a note (e.g. where the reference labels come from) under the figure."""
    if note:
        fig.text(0.01, -0.02, wrap(note, 150), ha="left", va="top", fontsize=8, style="italic")
