"""Tests for genatator.tracks: exact round trips, run-length encoding, all-or-nothing output."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import pytest

from genatator.errors import ConfigError, GenatatorWarning
from genatator.labels import CLASSES
from genatator.tracks import TrackWriter, default_track_format

FORMATS = ["bedgraph", "bigwig"]
EXTENSION = {"bedgraph": ".bedGraph", "bigwig": ".bw"}


def _needs(fmt: str) -> None:
    if fmt == "bigwig":
        pytest.importorskip("pyBigWig")


def _piecewise(length: int, rng: np.random.Generator) -> np.ndarray:
    """(length, 5) float32 probabilities made of runs, some of them noisy, many of them zero."""
    levels = np.array([0.0, 0.0, 1.0, 0.25, 0.5004, 0.9996, 0.0004], dtype=np.float32)
    out = np.empty((length, len(CLASSES)), dtype=np.float32)
    for channel in range(len(CLASSES)):
        cuts = np.sort(rng.choice(np.arange(1, length), size=length // 40, replace=False))
        bounds = np.concatenate(([0], cuts, [length]))
        values = rng.choice(levels, size=len(bounds) - 1)
        out[:, channel] = np.repeat(values, np.diff(bounds))
    noisy = rng.random(length) < 0.1
    out[noisy] = rng.random((int(noisy.sum()), len(CLASSES)), dtype=np.float32)
    return out


def _write(writer: TrackWriter, data: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """Feed each sequence in random-sized blocks."""
    for seqid, values in data.items():
        cuts = np.sort(rng.choice(np.arange(1, len(values)), size=5, replace=False))
        for lo, hi in zip([0, *cuts], [*cuts, len(values)]):
            writer.add(seqid, int(lo), values[lo:hi])
        writer.end_sequence(seqid, len(values))


def _read_bedgraph(path: Path) -> tuple[str, list[tuple[str, int, int, str]]]:
    header, *lines = path.read_text().splitlines()
    rows = []
    for line in lines:
        seqid, start, end, value = line.split("\t")
        rows.append((seqid, int(start), int(end), value))
    return header, rows


def _intervals(directory: Path, fmt: str, name: str) -> dict[str, list[tuple[int, int, float]]]:
    """Intervals per sequence, in file order."""
    out: dict[str, list[tuple[int, int, float]]] = {}
    path = directory / f"{name}{EXTENSION[fmt]}"
    if fmt == "bedgraph":
        header, rows = _read_bedgraph(path)
        assert header.startswith(f'track type=bedGraph name="{name}" ')
        for seqid, start, end, value in rows:
            out.setdefault(seqid, []).append((start, end, float(value)))
    else:
        import pyBigWig

        with contextlib.closing(pyBigWig.open(str(path))) as track:
            for seqid in track.chroms():
                out[seqid] = list(track.intervals(seqid) or ())  # None: no data
    return out


def _bigwig_values(directory: Path, name: str, seqid: str) -> np.ndarray:
    import pyBigWig

    with contextlib.closing(pyBigWig.open(str(directory / f"{name}.bw"))) as track:
        return track.values(seqid, 0, track.chroms(seqid), numpy=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_is_exact_and_maximally_run_length_encoded(tmp_path, fmt):
    _needs(fmt)
    rng = np.random.default_rng(7)
    data = {name: _piecewise(n, rng) for name, n in [("chr2", 3000), ("chr1", 1700), ("m", 40)]}
    with TrackWriter(tmp_path / "tracks", fmt) as writer:
        _write(writer, data, rng)
    assert sorted(p.name for p in (tmp_path / "tracks").iterdir()) == sorted(
        f"{name}{EXTENSION[fmt]}" for name in CLASSES
    )
    for channel, name in enumerate(CLASSES):
        intervals = _intervals(tmp_path / "tracks", fmt, name)
        assert list(intervals) == list(data)  # sequences in the order written
        for seqid, rows in intervals.items():
            expected = np.round(data[seqid][:, channel].astype(np.float64), 3)
            starts, ends, values = (np.array(column) for column in zip(*rows))
            # Zero runs are written too: the intervals tile the whole sequence.
            assert starts[0] == 0 and ends[-1] == len(expected)
            assert np.array_equal(starts[1:], ends[:-1])
            assert np.all(values[1:] != values[:-1])  # maximal runs, across block boundaries
            if fmt == "bigwig":
                expected = expected.astype(np.float32)  # bigWig stores float32
                assert np.array_equal(_bigwig_values(tmp_path / "tracks", name, seqid), expected)
            assert np.array_equal(np.repeat(values, ends - starts), expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_run_across_block_boundary_is_one_interval(tmp_path, fmt):
    _needs(fmt)
    column = np.array([0.2] * 5 + [0.2] * 3 + [0.7] * 2 + [0.0] * 4, dtype=np.float32)
    block = np.repeat(column[:, None], len(CLASSES), axis=1)
    with TrackWriter(tmp_path, fmt) as writer:
        writer.add("s", 0, block[:5])
        writer.add("s", 5, block[5:11])
        writer.add("s", 11, block[11:])
        writer.end_sequence("s", 14)
    rows = _intervals(tmp_path, fmt, "CDS")["s"]
    assert [(s, e) for s, e, _ in rows] == [(0, 8), (8, 10), (10, 14)]
    assert np.allclose([v for _, _, v in rows], [0.2, 0.7, 0.0])


def test_bedgraph_text_precision_and_header(tmp_path):
    block = np.array([[0.12345, 1.0], [0.12349, 1.0], [0.5, 0.0004]], dtype=np.float32)
    with TrackWriter(tmp_path, "bedgraph", classes=("a", "b"), precision=2) as writer:
        writer.add("chrM", 0, block)
        writer.end_sequence("chrM", 3)
    assert (tmp_path / "a.bedGraph").read_text().splitlines() == [
        'track type=bedGraph name="a" description="genatator a probability" visibility=full '
        "autoScale=off viewLimits=0:1",
        "chrM\t0\t2\t0.12",
        "chrM\t2\t3\t0.5",
    ]
    assert (tmp_path / "b.bedGraph").read_text().splitlines()[1:] == [
        "chrM\t0\t2\t1",
        "chrM\t2\t3\t0",
    ]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("existing", [False, True])
def test_exception_inside_with_leaves_nothing(tmp_path, fmt, existing):
    _needs(fmt)
    directory = tmp_path / "out"
    if existing:
        directory.mkdir()
    block = np.full((100, len(CLASSES)), 0.5, dtype=np.float32)
    with pytest.raises(RuntimeError, match="boom"), TrackWriter(directory, fmt) as writer:
        writer.add("a", 0, block)
        writer.end_sequence("a", 100)
        writer.add("b", 0, block)
        raise RuntimeError("boom")
    assert list(directory.iterdir()) == [] if existing else not directory.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_gaps_between_blocks_stay_missing(tmp_path, fmt):
    _needs(fmt)
    block = np.full((10, len(CLASSES)), 0.5, dtype=np.float32)
    with TrackWriter(tmp_path, fmt) as writer:
        writer.add("r", 0, block)
        writer.add("r", 20, block)  # a run restricted to regions skips 10-20 and 30-40
        writer.end_sequence("r", 40)
        writer.end_sequence("untouched", 15)
    assert _intervals(tmp_path, fmt, "exon").get("r") == [(0, 10, 0.5), (20, 30, 0.5)]
    if fmt == "bigwig":
        values = _bigwig_values(tmp_path, "exon", "r")
        assert np.isnan(values[10:20]).all() and np.isnan(values[30:]).all()
        assert _bigwig_values(tmp_path, "exon", "untouched").shape == (15,)


@pytest.mark.parametrize("fmt", FORMATS)
def test_misuse_is_refused_and_a_failed_close_leaves_nothing(tmp_path, fmt):
    _needs(fmt)
    block = np.zeros((10, len(CLASSES)), dtype=np.float32)
    writer = TrackWriter(tmp_path, fmt)
    writer.add("a", 0, block)
    with pytest.raises(ValueError, match="before the end 10"):
        writer.add("a", 5, block)
    with pytest.raises(ValueError, match="shape"):
        writer.add("a", 10, block[:, :3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        writer.add("a", 10, np.full((2, len(CLASSES)), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        writer.add("a", 10, np.full((2, len(CLASSES)), 1.5, dtype=np.float32))
    with pytest.raises(ValueError, match="not ended"):
        writer.add("b", 0, block)
    with pytest.raises(ValueError, match="past its length 9"):
        writer.end_sequence("a", 9)
    with pytest.raises(ValueError, match="still open"):
        writer.end_sequence("b", 10)
    with pytest.raises(ValueError, match="not ended"):
        writer.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="closed"):
        writer.add("a", 10, block)


def test_ended_sequence_cannot_come_back(tmp_path):
    block = np.zeros((3, len(CLASSES)), dtype=np.float32)
    with pytest.raises(ValueError, match="already ended"), TrackWriter(tmp_path, "bedgraph") as w:
        w.add("a", 0, block)
        w.end_sequence("a", 3)
        w.add("a", 3, block)
    assert list(tmp_path.iterdir()) == []


def test_empty_sequences_are_left_out(tmp_path):
    pytest.importorskip("pyBigWig")
    with TrackWriter(tmp_path, "bigwig") as writer:
        writer.end_sequence("empty", 0)
        writer.add("a", 0, np.ones((3, len(CLASSES)), dtype=np.float32))
        writer.end_sequence("a", 3)
    assert _intervals(tmp_path, "bigwig", "exon") == {"a": [(0, 3, 1.0)]}


def test_bigwig_without_sequences_warns_and_writes_nothing(tmp_path):
    pytest.importorskip("pyBigWig")
    with (
        pytest.warns(GenatatorWarning, match="none was written"),
        TrackWriter(tmp_path / "x", "bigwig") as writer,
    ):
        writer.end_sequence("empty", 0)
    assert list((tmp_path / "x").iterdir()) == []


def test_missing_pybigwig_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyBigWig", None)  # makes `import pyBigWig` fail
    with pytest.raises(ConfigError, match="pip install pyBigWig"):
        TrackWriter(tmp_path / "tracks", "bigwig")
    assert not (tmp_path / "tracks").exists()
    assert default_track_format() == "bedgraph"
    with TrackWriter(tmp_path / "tracks", "bedgraph") as writer:  # bedGraph needs no pyBigWig
        writer.end_sequence("a", 0)
    assert (tmp_path / "tracks" / "CDS.bedGraph").exists()


def test_default_format_is_bigwig_when_installed():
    pytest.importorskip("pyBigWig")
    assert default_track_format() == "bigwig"


def test_bad_options():
    with pytest.raises(ValueError, match="format"):
        TrackWriter("x", "wig")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        TrackWriter("x", "bedgraph", precision=7)
    with pytest.raises(ValueError, match="distinct"):
        TrackWriter("x", "bedgraph", classes=("a", "a"))
    with pytest.raises(ValueError, match="file name"):
        TrackWriter("x", "bedgraph", classes=("a/b",))
    assert not Path("x").exists()
