"""`oeseg audit [PATH]`: check every tracked artifact, its inputs and the code against the manifest."""

from __future__ import annotations

import argparse

from oeseg.provenance.audit import audit

HELP = "check tracked artifacts, their inputs and the code against results/provenance.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the sub-command's arguments."""
    parser.add_argument("path", nargs="?", default="results",
                        help="the results folder holding provenance.json (default: results)")
    parser.add_argument("--workdir", default=".",
                        help="the workflow's working directory, against which recorded input "
                             "paths resolve and whose git tree is the code (default: .)")


def run(args: argparse.Namespace) -> int:
    """Print one line per problem; 1 when there is any, else 0."""
    problems = audit(args.path, args.workdir)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{args.path}: every tracked artifact matches its provenance record")
    return 1 if problems else 0
