# opal stage: filled in by its issue
