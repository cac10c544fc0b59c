"""The benchmarks given a missing input: a message naming the path, exit status 2, no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from oeseg.io import exit_status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.parametrize("benchmark, argv, named", [
    ("published_coverage", ["--data", "{tmp}"], "{tmp}/paper/outputs"),
    ("ade20k_segment_order", ["--data", "{tmp}"], "{tmp}/paper/outputs"),
    ("mapping_quality", ["--data", "{tmp}"], "{tmp}/paper/user_study_results.json"),
    ("mapping_speed", ["--data", "{tmp}", "--lexical-only"], "{tmp}/paper/outputs/opal/ade20k/descriptions.json"),
    ("miou_parity", ["--config", "{tmp}/config.yaml"], "{tmp}/config.yaml"),
    ("miou_parity", ["--config", "{tmp}/run.yaml"], "{tmp}/work/predictions"),
    ("noun_list_coverage", ["--data", "{tmp}"], "{tmp}/tag2text/tag2text_ori_tag_list.txt"),
    ("synthetic_generation", ["--config", "{tmp}/config.yaml"], "{tmp}/config.yaml"),
])
def test_a_missing_input_is_named_not_a_traceback(benchmark, argv, named, tmp_path, capsys):
    (tmp_path / "run.yaml").write_text(f"out: {tmp_path}/work\n")  # a demo config whose run made no predictions
    main = __import__(benchmark).main
    assert exit_status(lambda: main([a.format(tmp=tmp_path) for a in argv]), benchmark) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{benchmark}: error: {named.format(tmp=tmp_path)}") and err.count("\n") == 1, err
