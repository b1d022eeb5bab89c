"""Clean (rain-free) sources: bundled images, folders of images, frame folders and videos.

A :class:`CleanSource` is a still (animated by a synthetic camera motion) or a video (used as it
is). :func:`load_sources` understands

- ``None``: the colour photographs that ship inside scikit-image's wheel (never downloaded);
- a clean-data root with a ``manifest.csv`` (the shared DAVIS / Kodak / CBSD68 / McMaster material);
- an image or video file;
- a folder: image files are stills, unless their names are consecutive numbers (``00000.jpg``,
  ``00001.jpg``...), which make the folder one clip; sub-folders and video files are searched too.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derain.errors import DerainError

# Colour photographs inside skimage/data (files in the wheel; fetched data sets are never used).
BUNDLED = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
}


@dataclass(frozen=True)
class CleanSource:
    """One clean still or clip. ``frames`` is 1 for a still; ``path`` is a file or frame folder."""

    name: str
    kind: str  # "still" | "video"
    path: Path
    frames: int

    def load(self, start: int = 0, count: int | None = None) -> np.ndarray:
        """A still ``(H, W, 3)`` or frames ``[start, start + count)`` of a clip ``(T, H, W, 3)``, uint8."""
        from derain.io import FrameReader, read_image

        if self.kind == "still":
            return read_image(self.path)
        end = None if count is None else start + count
        with FrameReader(self.path, start=start, end=end) as reader:
            frames = list(reader)
        if not frames or (count is not None and len(frames) < count):
            raise DerainError(f"clean clip {self.name} has fewer than {start + (count or 1)} frames")
        return np.stack(frames)


def bundled_sources() -> list[CleanSource]:
    """scikit-image's packaged colour photographs (astronaut, coffee, chelsea, rocket) as stills."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    out = [CleanSource(f"bundled-{n}", "still", folder / f, 1) for n, f in BUNDLED.items()]
    missing = [s.path.name for s in out if not s.path.is_file()]
    if missing:
        raise DerainError(f"scikit-image does not ship {', '.join(missing)}; pass --clean")
    return out


def manifest_sources(root: str | os.PathLike) -> list[CleanSource]:
    """All entries of ``root/manifest.csv`` (kind,name,path,frames,...); image names are ``set/file``."""
    root = Path(root)
    out = []
    with open(root / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            path = root / row["path"]
            if row["kind"] == "video":
                out.append(CleanSource(row["name"], "video", path, int(row["frames"])))
            else:
                out.append(CleanSource(f"{path.parent.name}/{path.stem}", "still", path, 1))
    return out


def _is_frame_run(names: list[str]) -> bool:
    stems = [Path(n).stem for n in names]
    if len(stems) < 2 or not all(s.isdigit() for s in stems):
        return False
    nums = sorted(int(s) for s in stems)
    return nums == list(range(nums[0], nums[0] + len(nums)))


def _scan(folder: Path, prefix: str, depth: int) -> list[CleanSource]:
    from derain.io import IMAGE_EXTS, VIDEO_EXTS, natural_key, probe

    entries = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name)
    )
    images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
    out: list[CleanSource] = []
    if _is_frame_run([p.name for p in images]):
        out.append(CleanSource(prefix.rstrip("/") or folder.name, "video", folder, len(images)))
    else:
        out += [CleanSource(f"{prefix}{p.stem}", "still", p, 1) for p in images]
    for p in entries:
        if p.is_file() and p.suffix.lower() in VIDEO_EXTS:
            n = probe(p).num_frames
            out.append(CleanSource(f"{prefix}{p.stem}", "video", p, int(n or 0)))
        elif p.is_dir() and depth > 0:
            out += _scan(p, f"{prefix}{p.name}/", depth - 1)
    return out


def load_sources(spec: str | os.PathLike | None) -> list[CleanSource]:
    """Resolve a ``--clean`` argument (see the module docstring) into a list of sources."""
    if spec is None:
        return bundled_sources()
    path = Path(spec)
    if not path.exists():
        raise DerainError(f"clean source not found: {path}")
    if path.is_dir() and (path / "manifest.csv").is_file():
        return manifest_sources(path)
    if path.is_file():
        from derain.io import IMAGE_EXTS, probe

        if path.suffix.lower() in IMAGE_EXTS:
            return [CleanSource(path.stem, "still", path, 1)]
        info = probe(path)
        return [CleanSource(path.stem, "video", path, int(info.num_frames or 0))]
    sources = _scan(path, "", depth=2)
    if not sources:
        raise DerainError(f"no images or videos found in {path}")
    return sources


def resize_to_cover(frames: np.ndarray, height: int, width: int, margin: float = 1.0) -> np.ndarray:
    """Resize ``(H, W, 3)`` or ``(T, H, W, 3)`` uint8 so it covers ``margin x (height, width)`` (Lanczos)."""
    from PIL import Image

    h, w = frames.shape[-3:-1]
    f = max(height / h, width / w) * margin
    size = (max(width, round(w * f)), max(height, round(h * f)))
    if size == (w, h):
        return frames
    one = frames.ndim == 3
    out = np.stack(
        [
            np.asarray(Image.fromarray(x).resize(size, Image.LANCZOS))
            for x in (frames[None] if one else frames)
        ]
    )
    return out[0] if one else out
