"""The human verification study (paper Section 5.1, Appendix C.1), one module per step.

- selection: the descriptions where Sentence-BERT and the lexical mapping disagree
- annotation: the self-contained annotation page and the annotators' exported CSVs
- agreement: two annotators' agreement, the disagreements to resolve, the final study table
- table: study tables (reference label and both mappings per description) and their accuracies
- published: the paper's published study, remapped with our mappings
Figures 1, 3 and 8 (`oeseg.figures.accuracy`) plot study tables.
"""
