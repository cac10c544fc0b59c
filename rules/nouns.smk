# nouns stage: filled in by its issue
