"""`derain train` (placeholder while under construction; replaced by its owner)."""

from derain.errors import DerainError


def add_parser(sub):
    p = sub.add_parser("train", help="(under construction)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    raise DerainError("'train' is under construction")
