"""``derain run INPUT... [-o OUTPUT]``: derain videos, frame folders or images.

With several inputs (or a glob), ``-o`` must be a folder; each output keeps its input's name
(``<name>.derained.mp4``). Under ``torchrun`` the inputs are sharded across ranks, outputs that
already exist are skipped (they are complete: every output is renamed into place only when
finished), and rank 0 prints a summary of all ranks.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

from derain.errors import DerainError


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="derain a video, frame folder or image (default: the bundled demo clip)")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="video files, frame folders, images or globs")
    p.add_argument(
        "-o", "--output", help="output file (kind from its extension) or folder; default <name>.derained.mp4"
    )
    p.add_argument("--model", default=None, help="shipped model name (rrgnet, j4rnet) or checkpoint path")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    p.add_argument("--precision", default="auto", help="auto | fp32 | bf16 | fp16 (default: auto)")
    p.add_argument("--side-by-side", action="store_true", help="write input and result next to each other")
    p.add_argument("--start", type=float, default=None, metavar="T", help="start time in seconds")
    p.add_argument("--end", type=float, default=None, metavar="T", help="end time in seconds")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality (lower is better, default 18)")
    p.add_argument("--tile", type=int, default=0, help="tile side in pixels for huge frames (0 = automatic)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument(
        "--skip-existing", action="store_true", help="skip inputs whose output exists (resume a batch)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Paths and globs -> existing paths, in order, without duplicates."""
    out: list[Path] = []
    for pat in patterns:
        if glob.has_magic(pat):
            matches = sorted(glob.glob(pat))
            if not matches:
                raise DerainError(f"no input matches {pat!r}")
            out.extend(Path(m) for m in matches)
        elif not Path(pat).exists():
            raise DerainError(f"input not found: {pat}")
        else:
            out.append(Path(pat))
    return list(dict.fromkeys(out))


def plan_outputs(inputs: list[Path], output: str | None) -> list[tuple[Path, Path]]:
    from derain.inference import default_output

    if output is None:
        return [(i, default_output(i)) for i in inputs]
    out = Path(output)
    if len(inputs) == 1 and not (output.endswith(("/", "\\")) or out.is_dir()):
        return [(inputs[0], out)]
    if out.exists() and not out.is_dir():
        raise DerainError(f"with several inputs, -o must be a folder: {out} is a file")
    return [(i, out / default_output(i).name) for i in inputs]


def run(args) -> int:
    from derain.models import DEFAULT_MODEL
    from derain.train import distributed as dist_utils

    if not args.inputs:
        from derain.commands import demo

        return demo.run_demo(model=args.model or DEFAULT_MODEL, device=args.device, precision=args.precision)
    jobs = plan_outputs(expand_inputs(args.inputs), args.output)
    if args.output and len(jobs) > 1:
        Path(args.output).mkdir(parents=True, exist_ok=True)
    di = dist_utils.setup()
    skip_existing = args.skip_existing or di.enabled
    mine = jobs[di.rank :: di.world_size]

    from derain.inference import Derainer, derain_video

    derainer = Derainer(
        args.model or DEFAULT_MODEL, device=args.device, precision=args.precision, tile=args.tile
    )
    done: list[dict] = []
    for src, dst in mine:
        if skip_existing and dst.exists() and not args.overwrite:
            done.append({"input": str(src), "output": str(dst), "status": "skipped (exists)"})
            continue
        summary = derain_video(
            src,
            dst,
            model=derainer,
            side_by_side=args.side_by_side,
            start=args.start,
            end=args.end,
            overwrite=args.overwrite,
            progress=not args.quiet and sys.stderr.isatty(),
            crf=args.crf,
        )
        print(summary.line(), file=sys.stderr)
        done.append({"input": str(src), "output": str(dst), "status": f"{summary.frames} frames"})
    everything = [row for rank_rows in dist_utils.all_gather_objects(done) for row in rank_rows]
    if di.is_main and len(jobs) > 1:
        print(f"{len(everything)} inputs: " + "; ".join(f"{r['output']} ({r['status']})" for r in everything))
    dist_utils.cleanup()
    return 0
