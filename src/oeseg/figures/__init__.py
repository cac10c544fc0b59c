"""Table 1, the paper's figures and the human verification study (one module per artifact family).

- evaluations: reading the evaluate stage's RESULTS.json files
- table: Table 1 (CSV, Markdown, LaTeX)
- curves: Lexical Alignment Curves and LAC box plots (Figures 4, 11, 12)
- study: mapping-vs-human accuracy and its figures (Figures 1, 3, 8), the paper's published study
- lexicon_levels: a category's valid vocabulary by level (Figure 2)
- qualitative: region crops with two methods' descriptions (Figure 10)
- human_study: selecting descriptions, the annotation page, annotator agreement
"""
