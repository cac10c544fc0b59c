# baselines stage: filled in by its issue
