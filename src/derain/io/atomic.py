"""Atomic outputs: write under a hidden temporary name in the same folder, rename when complete.

The temporary name is ``.<stem>.partial-<random><suffix>`` (the real extension is kept so muxers
and image writers pick the right format); folders get ``.<name>.partial-<random>``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from derain.errors import DerainError


def temp_path_for(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """A fresh hidden sibling of ``path`` (nothing is created)."""
    path = Path(path)
    token = secrets.token_hex(4)
    if folder or not path.suffix:
        return path.with_name(f".{path.name}.partial-{token}")
    return path.with_name(f".{path.stem}.partial-{token}{path.suffix}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path: str | os.PathLike, *, overwrite: bool = False, forbid: Iterable = ()) -> Path:
    """Refuse an output that exists (unless ``overwrite``) or that is, or holds, one of ``forbid``.

    Also checks that the parent folder exists. Returns ``path`` as a :class:`Path`.
    """
    path = Path(path)
    for other in forbid:
        if other is None:
            continue
        other = Path(other)
        if _same_file(path, other):
            raise DerainError(f"output is the same as the input: {path}")
        if path.is_dir() and path.resolve() in other.resolve().parents:
            raise DerainError(f"output folder {path} contains the input {other}")
    if not path.parent.is_dir():
        raise DerainError(f"output folder does not exist: {path.parent}")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise DerainError(f"output exists: {path} (use --overwrite to replace it)")
    return path


def remove_path(path: str | os.PathLike) -> None:
    """Delete a file or folder if present; never raises for a missing path."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def commit(tmp: str | os.PathLike, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Move the finished ``tmp`` onto ``path`` (atomically for files; a replaced folder is swapped)."""
    tmp, path = Path(tmp), Path(path)
    if not tmp.exists():
        raise FileNotFoundError(f"nothing was written at {tmp}")
    if path.exists() or path.is_symlink():
        if not overwrite:
            remove_path(tmp)
            raise DerainError(f"output exists: {path} (use --overwrite to replace it)")
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".{path.name}.old-{secrets.token_hex(4)}")
            os.replace(path, old)
            os.replace(tmp, path)
            remove_path(old)
            return
        if tmp.is_dir():
            path.unlink()
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it is renamed onto ``path``, on error removed.

    The caller creates a file *or* a folder at the yielded path (nothing is created for it).
    ``DerainError`` if ``path`` exists and ``overwrite`` is false.

    >>> with atomic_output("report.json") as tmp:
    ...     tmp.write_text("{}")
    """
    path = check_output(path, overwrite=overwrite)
    tmp = temp_path_for(path)
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    commit(tmp, path, overwrite=overwrite)
