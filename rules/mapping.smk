# mapping stage: filled in by its issue
