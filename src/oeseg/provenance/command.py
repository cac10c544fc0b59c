"""`oeseg audit [PATH]`: check every tracked artifact, its inputs, the config and the code against
the manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from oeseg.io import InputError
from oeseg.provenance.audit import audit_report

HELP = "check tracked artifacts, their inputs, the config and the code against results/provenance.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the sub-command's arguments."""
    parser.add_argument("path", nargs="?", default="results",
                        help="the results folder holding provenance.json (default: results)")
    parser.add_argument("--workdir", default=".",
                        help="the workflow's working directory, against which recorded input "
                             "paths resolve and whose git tree is the code (default: .)")
    parser.add_argument("--configfile", nargs="+", metavar="FILE",
                        help="the config the artifacts were made with, relative to --workdir "
                             "(default: the config files the records name, where they all name the "
                             "same, else config.yaml, the demo; checked where present; "
                             "configs/paper.yaml for the paper; a file named here must exist); "
                             "several files are layered as Snakemake layers its --configfile "
                             "files: later ones override earlier ones, nested keys one by one")
    parser.add_argument("--strict", action="store_true",
                        help="also require every recorded input (the intermediates under the "
                             "config's `out` folder, the datasets) to be present and unchanged")


def run(args: argparse.Namespace) -> int:
    """Print the report (summary, then one line per problem); 1 when there is any problem, else 0."""
    for folder, what in ((args.path, "the results folder"), (args.workdir, "--workdir")):
        if not Path(folder).is_dir():  # a typo, not an audit that finds no manifest
            raise InputError(f"{folder}: {'a file, not a folder' if Path(folder).exists() else 'no such folder'} "
                             f"({what})")
    for configfile in args.configfile or []:  # a config named on purpose: a typo is an error
        if not (Path(args.workdir) / configfile).is_file():
            raise InputError(f"--configfile {configfile}: no such file in {args.workdir}")
    report = audit_report(args.path, args.workdir, args.configfile or ["config.yaml"], args.strict,
                          use_recorded=not args.configfile)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1
