# provenance stage: filled in by its issue
