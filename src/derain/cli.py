"""The ``derain`` command: a thin dispatcher over one module per sub-command.

Each module in ``derain.commands`` exposes ``add_parser(subparsers)`` and ``run(args) -> int``;
this file only wires them up and turns :class:`~derain.errors.DerainError` into a one-line
message with exit code 2 (130 for Ctrl-C), so no user ever sees a traceback for bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from derain.errors import DerainError


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    # Imported here so that `derain --help` stays fast and a broken optional command cannot
    # break the others at import time.
    from derain.commands import demo, eval_cmd, run, score, synth, train

    parser = _Parser(prog="derain", description="Remove rain from video.")
    parser.add_argument("--version", action="version", version=f"derain {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in (run, demo, synth, train, eval_cmd, score):
        module.add_parser(sub)
    return parser


def _version() -> str:
    from derain import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # The main job with no arguments: derain the bundled sample clip.
        args = parser.parse_args(["demo"])
    try:
        return int(args.func(args) or 0)
    except DerainError as exc:
        print(f"derain: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("derain: interrupted; no partial output was kept", file=sys.stderr)
        return 130
