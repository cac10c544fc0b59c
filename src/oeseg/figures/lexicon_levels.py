"""Figure 2: a category's valid vocabulary by lexical level (from a lexicon) and how descriptions map."""

from __future__ import annotations

import matplotlib.pyplot as plt

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.figures.style import LEVEL_LABELS, add_note, category_label, save_figure, wrap
from oeseg.io import InputError
from oeseg.lexicon.lexicon import LEVELS, Lexicon, LexiconEntry, load_checked_lexicon
from oeseg.mapping import BACKGROUND


def lexicon_entry(lexicon: Lexicon, vocabulary: Vocabulary, category: str) -> LexiconEntry:
    """The lexicon entry of a category given by name."""
    try:
        cid = vocabulary.by_name(category).id
    except KeyError as e:
        raise InputError(f"figures.fig2.category: {e.args[0]}") from None
    for e in lexicon.entries:
        if e.id == cid:
            return e
    raise InputError(f"lexicon of {lexicon.vocabulary}: no entry for category {category!r} (id {cid})")


def plot_fig2(entry: LexiconEntry, vocabulary: Vocabulary, descriptions: list[str], mapped: dict[str, list[int]],
              max_terms: int = 10, note: str | None = None) -> plt.Figure:
    """(a) the category's terms at each level; (b) each description's mapping at each (cumulative) level."""
    term_lines = max(min(len(entry.terms(level)), max_terms + 1) for level in LEVELS) + 3
    rows = len(descriptions) + 1
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(14, 1.2 + max(0.16 * term_lines, 0.3 * rows)), width_ratios=[1, 1.5])
    ax_a.axis("off")
    n = len(LEVELS)
    for i, level in enumerate(LEVELS):
        terms = sorted(entry.terms(level))
        shown = terms[:max_terms] + ([f"(+{len(terms) - max_terms} more)"] if len(terms) > max_terms else [])
        x = (i + 0.5) / n
        added = "" if i == 0 else "+"  # each level adds its terms to the ones before
        ax_a.text(x, 0.98, f"{LEVEL_LABELS[level]}\n({added}{len(terms)} term{'' if len(terms) == 1 else 's'})",
                  ha="center", va="top", weight="bold", transform=ax_a.transAxes)
        ax_a.annotate("\n".join(wrap(t, 16) for t in shown) or "(none)", (x, 0.98), xycoords="axes fraction",
                      xytext=(0, -32), textcoords="offset points", ha="center", va="top", fontsize=8)
    ax_a.set_title(f"(a) Valid vocabulary of \u201c{entry.name}\u201d: the terms each level adds (levels are cumulative)")
    ax_b.axis("off")
    cells, colors = [], []
    for j, desc in enumerate(descriptions):
        row, col = [wrap(desc, 34)], ["#ffffff"]
        for level in LEVELS:
            cid = mapped[level][j]
            row.append(category_label(cid, vocabulary))
            col.append("#d9f0d3" if cid == entry.id else ("#eeeeee" if cid == BACKGROUND else "#f4cccc"))
        cells.append(row)
        colors.append(col)
    table = ax_b.table(cellText=cells, colLabels=["Description"] + [LEVEL_LABELS[lv] for lv in LEVELS],
                       cellColours=colors, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (r, c), cell in table.get_celld().items():
        cell.set_width(0.4 if c == 0 else 0.15)
        cell.set_height(min(0.12, 0.95 / rows))
    ax_b.set_title(f"(b) Lexical mapping at each level (ground truth \u201c{entry.name}\u201d; green: mapped to it,"
                   " grey: bg = background)", fontsize=9)
    fig.tight_layout()
    add_note(fig, note)
    return fig


def write_fig2(lexicon_path: str, vocabulary: str, category: str, descriptions: list[str], pdf: str, png: str,
               max_terms: int = 10, note: str | None = None) -> None:
    """Figure 2 (PDF, PNG): a category's lexicon entry and the lexical mapping of example descriptions."""
    from oeseg import mapping

    vocab = get_vocabulary(vocabulary)
    lexicon = load_checked_lexicon(lexicon_path, vocab)
    entry = lexicon_entry(lexicon, vocab, category)
    if not descriptions:
        raise InputError("figures.fig2.descriptions: give at least one example description")
    mapped = mapping.map_regions(descriptions, [entry.id] * len(descriptions), vocab, "lexical", lexicon=lexicon)
    save_figure(plot_fig2(entry, vocab, descriptions, mapped, max_terms, note), pdf, png)
