"""The `oeseg` command line: one sub-command per module (each module's `command` defines it)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator

from oeseg.io import InputError, check_output_path, exit_status

#: sub-command -> module that defines `HELP`, `add_arguments(parser)` and `run(args) -> int`
COMMANDS: dict[str, str] = {
    "map": "oeseg.mapping.command",
    "nouns": "oeseg.lexicon.nouns_command",
    "lexicon": "oeseg.lexicon.command",
    "evaluate": "oeseg.metrics.command",
    "import": "oeseg.baselines.command",
    "audit": "oeseg.provenance.command",
}


@contextlib.contextmanager
def logging_to_stderr(name: str) -> Iterator[None]:
    """Within the block, the logger `name` writes its INFO lines and above to stderr, each with its
    time and level (a build's progress, retries and warnings)."""
    logger, handler = logging.getLogger(name), logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="oeseg", description="Open-ended segmentation benchmark")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def check_output_not_input(args: argparse.Namespace) -> None:
    """Raise InputError when `--output` is one of the command's input files, or lies in one of its
    input folders (a split's folder: the write could replace its panoptic.json, and would add a
    file to the dataset either way)."""
    output = args.output
    real_output = os.path.realpath(output)
    for name, given in vars(args).items():
        if name in ("output", "_run"):
            continue
        option = name if name == "input" else "--" + name.replace("_", "-")
        for value in given if isinstance(given, list) else [given]:  # an option taking several paths
            if not isinstance(value, (str, os.PathLike)):
                continue
            if os.path.isfile(value) and os.path.exists(output) and os.path.samefile(value, output):
                raise InputError(f"{output}: the output is also the input given as {option}; "
                                 "writing it would replace that input")
            folder = os.path.realpath(value) if os.path.isdir(value) else None
            if folder is not None and os.path.commonpath([real_output, folder]) == folder:
                raise InputError(f"{output}: the output lies in the folder given as {option}, an input; "
                                 "write it elsewhere")


def is_standard_output(path: str | os.PathLike) -> bool:
    """Whether `path` is the file that this process's standard output (descriptor 1) writes to."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(1))
    except OSError:  # no such file yet; standard output closed
        return False


def run_command(args: argparse.Namespace) -> int | None:
    """The sub-command, its output checked before the work, not after it; where the output is
    standard output itself (`-o /dev/stdout`), the closing summary line goes to stderr."""
    if getattr(args, "output", None) is None:
        return args._run(args)
    check_output_path(args.output)
    check_output_not_input(args)
    with contextlib.redirect_stdout(sys.stderr) if is_standard_output(args.output) else contextlib.nullcontext():
        return args._run(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; bad input exits 2 with the message on stderr, Ctrl-C 130."""
    program = "oeseg"
    try:
        args = build_parser().parse_args(argv)  # imports every command's module: Ctrl-C may come here too
        program = f"oeseg {args.command}"
        return exit_status(lambda: run_command(args), program)
    except KeyboardInterrupt:  # Ctrl-C: every output is written atomically, so none is left half-written
        print(f"{program}: interrupted; an output is written whole or not at all", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`oeseg audit | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
