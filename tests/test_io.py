"""Tests for derain.io: streaming readers/writers, audio, rotation, odd sizes, atomic outputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from derain.errors import DerainError
from derain.io import (
    FrameReader,
    FrameWriter,
    atomic_output,
    natural_key,
    output_kind,
    probe,
    read_image,
    write_image,
)


def read_all(path, **kwargs) -> list[np.ndarray]:
    with FrameReader(path, **kwargs) as reader:
        return list(reader)


def copy_video(src, dst, **kwargs):
    with FrameReader(src) as reader, FrameWriter(dst, fps=reader.info.fps, forbid=[src], **kwargs) as writer:
        for frame in reader:
            writer.write(frame)
    return reader


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


# -- reading ------------------------------------------------------------------------------------


def test_probe_video(video_with_audio):
    info = probe(video_with_audio)
    assert (info.kind, info.width, info.height, info.num_frames) == ("video", 64, 48, 24)
    assert info.fps == Fraction(2974, 100) and isinstance(info.fps, Fraction)
    assert info.has_audio and info.rotation == 0 and info.frame_names is None


def test_reader_frames_are_rgb_uint8_contiguous(video_with_audio, test_frames):
    with FrameReader(video_with_audio) as reader:
        frames = list(reader)
    assert reader.frames_read == 24 and reader.stopped_early is None
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 and f.flags.c_contiguous for f in frames)
    err = np.abs(frames[5].astype(int) - test_frames(24, (64, 48))[5]).mean()
    assert err < 6  # lossy but the same picture (a channel swap or flip would be far off)


def test_reader_start_end(frame_folder, test_frames):
    with FrameReader(frame_folder, start=3, end=7) as reader:
        frames = list(reader)
    assert reader.frames_read == 4 and reader.expected_frames == 4
    np.testing.assert_array_equal(np.stack(frames), test_frames(12, (64, 48))[3:7])


def test_reader_start_end_video(video_with_audio):
    full = read_all(video_with_audio)
    part = read_all(video_with_audio, start=10, end=15)
    assert len(part) == 5
    np.testing.assert_array_equal(part[0], full[10])


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_applied(tmp_path, write_test_video, test_frames, rotation):
    path = write_test_video(
        tmp_path / "rot.mp4", frames=3, size=(64, 48), rotation=rotation, with_audio=False
    )
    info = probe(path)
    assert info.rotation == rotation % 360
    assert (info.width, info.height) == ((48, 64) if rotation % 180 else (64, 48))
    frame = read_all(path)[0]
    expected = np.rot90(test_frames(3, (64, 48))[0], rotation // 90)
    assert frame.shape == expected.shape
    assert np.abs(frame.astype(int) - expected).mean() < 6


def test_yard_is_upright(yard_video):
    info = probe(yard_video)
    assert (info.width, info.height, info.num_frames) == (368, 640, 376)
    assert abs(float(info.fps) - 29.74) < 0.01 and info.has_audio and info.rotation == 270
    with FrameReader(yard_video) as reader:
        count = sum(1 for frame in reader if frame.shape == (640, 368, 3))
    assert count == reader.frames_read == 376 and reader.stopped_early is None


def test_folder_natural_sort_and_hidden_files(tmp_path, write_frame_folder, test_frames):
    clip = test_frames(11, (32, 24))
    names = [f"f{i}.png" for i in (1, 2, 10, 3, 4, 5, 6, 7, 8, 9, 11)]
    folder = write_frame_folder(tmp_path / "f", clip, names=names)
    (folder / ".DS_Store").write_bytes(b"junk")
    (folder / "sub").mkdir()
    info = probe(folder)
    assert info.kind == "folder" and info.num_frames == 11
    assert info.frame_names == tuple(f"f{i}.png" for i in range(1, 12))
    frames = read_all(folder)
    np.testing.assert_array_equal(frames[2], clip[3])  # f3.png
    np.testing.assert_array_equal(frames[9], clip[2])  # f10.png


def test_natural_key():
    names = ["f10.png", "f2.png", "F1.png", "f1b.png", "f01.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f01.png", "f1b.png", "f2.png", "f10.png"]


def test_folder_with_other_file_is_an_error(frame_folder):
    (frame_folder / "notes.txt").write_text("x")
    with pytest.raises(DerainError, match=r"notes\.txt"):
        probe(frame_folder)


def test_folder_sizes_must_match(tmp_path, write_frame_folder, test_frames):
    folder = write_frame_folder(tmp_path / "f", test_frames(3, (32, 24)))
    Image.fromarray(test_frames(1, (30, 24))[0]).save(folder / "f4.png")
    with pytest.raises(DerainError, match="same size"):
        read_all(folder)


@pytest.mark.parametrize("case", ["missing", "empty", "garbage", "no_video"])
def test_probe_errors(tmp_path, case):
    path = tmp_path / "x.mp4"
    if case == "empty":
        path = tmp_path / "empty"
        path.mkdir()
    elif case == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif case == "no_video":
        path.write_bytes(b"")
    with pytest.raises(DerainError) as info:
        probe(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    if case == "missing":
        assert message == f"input not found: {path}"


def test_image_modes_become_rgb_uint8(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray, mode="L").save(tmp_path / "l.png")
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    for name in ("l.png", "g16.png"):
        arr = read_image(tmp_path / name)
        assert arr.dtype == np.uint8 and arr.shape == (3, 4, 3)
        np.testing.assert_array_equal(arr[..., 1], gray)
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [200, 0, 0]
    info = probe(tmp_path / "l.png")
    assert (info.kind, info.num_frames, info.width, info.height) == ("image", 1, 4, 3)


def _truncate(path, packet: int = 15):
    """Cut ``path`` in the middle of its ``packet``-th video packet.

    Cutting at a fixed byte fraction is not reproducible: how big x264 makes each frame depends
    on the machine's thread count, so half the file can end inside the first (key) frame.
    """
    import av

    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    pos, size = packets[packet]
    path.write_bytes(path.read_bytes()[: pos + size // 2])


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_truncated_video(tmp_path, write_test_video, ext):
    path = write_test_video(tmp_path / f"t{ext}", frames=30, with_audio=False)
    _truncate(path)
    with pytest.raises(DerainError, match="frame") as info:
        read_all(path)
    assert "\n" not in str(info.value)
    with FrameReader(path, strict=False) as reader:
        frames = list(reader)
    assert 10 <= len(frames) == reader.frames_read < 30  # the frames before the cut survive
    assert reader.stopped_early and "\n" not in reader.stopped_early


# -- writing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ext", "fps"),
    [
        (".mp4", Fraction(2974, 100)),
        (".mp4", Fraction(30000, 1001)),
        (".mov", Fraction(24)),
        (".mkv", Fraction(30000, 1001)),
    ],
)
def test_round_trip_keeps_count_fps_audio(tmp_path, write_test_video, audio_seconds, ext, fps):
    src = write_test_video(tmp_path / f"in{ext}", frames=20, fps=fps)
    out = tmp_path / f"out{ext}"
    copy_video(src, out, audio_from=src)
    info = probe(out)
    assert info.fps == fps
    assert len(read_all(out)) == 20
    assert abs(audio_seconds(out) - audio_seconds(src)) < 0.1
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", [".webm", ".avi", ".mkv"])
def test_audio_transcoded_or_copied(tmp_path, video_with_audio, audio_seconds, ext):
    out = tmp_path / f"out{ext}"
    copy_video(video_with_audio, out, audio_from=video_with_audio)
    assert probe(out).has_audio and len(read_all(out)) == 24
    assert abs(audio_seconds(out) - audio_seconds(video_with_audio)) < 0.1


def test_audio_trimmed_to_frame_span(tmp_path, video_with_audio, audio_seconds):
    fps = probe(video_with_audio).fps
    out = tmp_path / "cut.mp4"
    with FrameReader(video_with_audio, start=6, end=18) as reader:
        span = dict(audio_start=float(6 / fps), audio_end=float(18 / fps))
        with FrameWriter(out, fps=fps, audio_from=video_with_audio, **span) as writer:
            for frame in reader:
                writer.write(frame)
    assert probe(out).num_frames == 12
    assert abs(audio_seconds(out) - 12 / fps) < 0.1


def test_video_without_audio_source(tmp_path, write_test_video):
    src = write_test_video(tmp_path / "mute.mp4", with_audio=False)
    copy_video(src, tmp_path / "out.mp4", audio_from=src)
    assert not probe(tmp_path / "out.mp4").has_audio


def test_ffv1_lossless_round_trip_is_exact(tmp_path, test_frames):
    clip = test_frames(8, (64, 48))
    with FrameWriter(tmp_path / "ll.mkv", fps=25, lossless=True) as writer:
        for frame in clip:
            writer.write(frame)
    np.testing.assert_array_equal(np.stack(read_all(tmp_path / "ll.mkv")), clip)


def test_png_folder_round_trip_keeps_names(tmp_path, frame_folder, test_frames):
    info = probe(frame_folder)
    out = tmp_path / "out_frames"
    with (
        FrameReader(frame_folder) as reader,
        FrameWriter(out, fps=info.fps, frame_names=info.frame_names) as w,
    ):
        for frame in reader:
            w.write(frame)
    assert output_kind(out) == "folder" and probe(out).frame_names == info.frame_names
    np.testing.assert_array_equal(np.stack(read_all(out)), test_frames(12, (64, 48)))
    with FrameWriter(tmp_path / "numbered", fps=25) as writer:
        writer.write(test_frames(1)[0])
    assert [p.name for p in (tmp_path / "numbered").iterdir()] == ["00000.png"]


def test_single_image_output(tmp_path, test_frames):
    frame = test_frames(1, (20, 10))[0]
    with FrameWriter(tmp_path / "one.png", fps=25) as writer:
        writer.write(frame)
        with pytest.raises(DerainError, match="one frame"):
            writer.write(frame)
    np.testing.assert_array_equal(read_image(tmp_path / "one.png"), frame)  # the rejected frame is dropped
    write_image(tmp_path / "two.jpg", frame)
    assert np.abs(read_image(tmp_path / "two.jpg").astype(int) - frame).mean() < 8


@pytest.mark.parametrize(
    ("ext", "lossless"), [(".mp4", False), (".mkv", False), (".webm", False), (".mkv", True), ("", False)]
)
def test_odd_sizes(tmp_path, test_frames, ext, lossless):
    clip = test_frames(4, (65, 49))
    out = tmp_path / f"odd{ext}"
    with FrameWriter(out, fps=25, lossless=lossless) as writer:
        for frame in clip:
            writer.write(frame)
    frames = read_all(out)
    assert len(frames) == 4 and frames[0].shape == (49, 65, 3)
    assert (probe(out).width, probe(out).height) == (65, 49)
    if lossless or not ext:
        np.testing.assert_array_equal(np.stack(frames), clip)
    else:
        assert np.abs(frames[1].astype(int) - clip[1]).mean() < 6


def test_existing_output_needs_overwrite(tmp_path, video_with_audio, test_frames):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    with pytest.raises(DerainError, match="exists"):
        FrameWriter(out, fps=25)
    copy_video(video_with_audio, out, overwrite=True)
    assert probe(out).num_frames == 24


def test_output_same_as_input_refused(tmp_path, video_with_audio, frame_folder):
    with pytest.raises(DerainError, match="same as the input"):
        FrameWriter(video_with_audio, fps=25, overwrite=True, forbid=[video_with_audio])
    with pytest.raises(DerainError, match="same as the input"):
        FrameWriter(tmp_path / "." / "rainy.mp4", fps=25, overwrite=True, audio_from=video_with_audio)
    with pytest.raises(DerainError, match="same as the input"):
        FrameWriter(frame_folder, fps=25, overwrite=True, forbid=[frame_folder])
    with pytest.raises(DerainError, match="contains the input"):
        FrameWriter(tmp_path, fps=25, overwrite=True, forbid=[frame_folder / "f1.png"])


@pytest.mark.parametrize("ext", [".mp4", ""])
def test_exception_mid_write_leaves_nothing(tmp_path, video_with_audio, ext):
    out = tmp_path / f"out{ext}"
    with pytest.raises(RuntimeError), FrameReader(video_with_audio) as reader:
        with FrameWriter(out, fps=25, audio_from=video_with_audio) as writer:
            for i, frame in enumerate(reader):
                writer.write(frame)
                if i == 5:
                    raise RuntimeError("boom")
    assert not out.exists() and leftovers(tmp_path) == []


def test_zero_frames_and_bad_frames(tmp_path, test_frames):
    writer = FrameWriter(tmp_path / "empty.mp4", fps=25)
    with pytest.raises(DerainError, match="no frames"):
        writer.close()
    assert list(tmp_path.iterdir()) == []
    with FrameWriter(tmp_path / "bad.mp4", fps=25) as writer:
        for bad in (np.zeros((48, 64, 3), np.float32), np.zeros((48, 64), np.uint8), [[1, 2, 3]]):
            with pytest.raises(DerainError, match="uint8"):
                writer.write(bad)
        writer.write(test_frames(1)[0])
        with pytest.raises(DerainError, match="size changed"):
            writer.write(np.zeros((24, 32, 3), np.uint8))
    assert probe(tmp_path / "bad.mp4").num_frames == 1


def test_lossless_needs_mkv(tmp_path):
    with pytest.raises(DerainError, match="mkv"):
        FrameWriter(tmp_path / "x.mp4", fps=25, lossless=True)


def test_atomic_output(tmp_path):
    target = tmp_path / "report.json"
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".json" and tmp.name.startswith(".")
        tmp.write_text("{}")
        assert not target.exists()
    assert target.read_text() == "{}"
    with pytest.raises(DerainError, match="exists"), atomic_output(target):
        pass
    with pytest.raises(ValueError), atomic_output(target, overwrite=True) as tmp:
        tmp.write_text("half")
        raise ValueError
    assert target.read_text() == "{}" and leftovers(tmp_path) == []
    folder = tmp_path / "plots"
    for text in ("a", "b"):  # a folder, then replacing it
        with atomic_output(folder, overwrite=True) as tmp:
            tmp.mkdir()
            (tmp / "x.txt").write_text(text)
    assert (folder / "x.txt").read_text() == "b" and leftovers(tmp_path) == []


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from derain.io import FrameReader, FrameWriter
    src, dst = sys.argv[1], sys.argv[2]
    y, x = np.mgrid[0:240, 0:320]
    cycle = [np.stack([(x + 9 * t) % 256, y, (x + y + 5 * t) % 256], -1).astype(np.uint8) for t in range(10)]
    with FrameWriter(src, fps=25) as w:  # 1000 frames of 320x240: 230 MB if held at once
        for t in range(1000):
            w.write(cycle[t % 10])
    del cycle
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with FrameReader(src) as r, FrameWriter(dst, fps=r.info.fps) as w:
        for frame in r:
            w.write(frame)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(r.frames_read, (peak - base) // 1024)
    """
)


def test_streaming_memory_is_flat(tmp_path):
    # A fresh interpreter, so the peak RSS of earlier tests does not hide this one's growth.
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(tmp_path / "long.mp4"), str(tmp_path / "copy.mp4")],
        capture_output=True,
        text=True,
        check=True,
    )
    frames, growth_mb = map(int, result.stdout.split())
    assert frames == 1000
    assert growth_mb < 50, f"peak RSS grew by {growth_mb} MB while streaming 1000 frames"
