# lexicon stage: filled in by its issue
