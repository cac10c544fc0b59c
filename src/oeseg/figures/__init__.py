"""Table 1 and the paper's figures (one module per artifact family).

- evaluations: reading the evaluate stage's RESULTS.json files
- table: Table 1 (CSV, Markdown, LaTeX)
- curves: Lexical Alignment Curves and LAC box plots (Figures 4, 11, 12)
- accuracy: the mappings against reference (human) labels (Figures 1, 3, 8)
- lexicon_levels: a category's valid vocabulary by level (Figure 2)
- qualitative: region crops with two methods' descriptions (Figure 10)
The human verification study that Figures 1, 3 and 8 plot lives in `oeseg.human_study`.
"""
