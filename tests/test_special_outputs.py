"""Outputs that are not regular files (devices, FIFOs, symlinks) and the resume sidecar's notices.

Atomic output (temporary file, then rename) is for regular files only: renaming over a device
or a FIFO replaces it, and renaming over a symlink replaces the link instead of its target.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, run_cli, write_synthetic_genome

from genatator._io import atomic_output, move_output
from genatator.cli import main
from genatator.distributed import Distributed
from genatator.partial import PARTIAL_SUFFIX, Outputs, PartialOutputs
from genatator.tracks import TrackWriter

LENGTHS = {"chrA": 4_000, "chrB": 3_000}
FAST = ["--window", "2000", "--batch-size", "4", "--threads", "1", "--min-cds-codons", "10"]
TEXT = "line one\nline two é\n"


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> tuple[Path, Path]:
    """A two-sequence FASTA and a GFF3 of synthetic genes on it."""
    return write_synthetic_genome(tmp_path_factory.mktemp("special"), LENGTHS, genes_per_sequence=1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, genome, tiny_random_model) -> Path:
    """What annotate writes to regular files, to compare the special outputs with."""
    directory = tmp_path_factory.mktemp("reference")
    args = [genome[0], "-m", tiny_random_model, *FAST, "-o", directory / "genes.gff3"]
    assert main(["annotate", *map(str, args), "--proteins", str(directory / "p.faa")]) == 0
    return directory


@pytest.fixture
def device(tmp_path) -> Path:
    """A private character device like /dev/null (1, 3): a failing test cannot harm the real one."""
    node = tmp_path / "devnull"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        with open(node, "w") as handle:  # a nodev mount refuses to open it
            handle.write("x")
    except OSError as error:
        pytest.skip(f"cannot make a character device here: {error}")
    return node


@contextlib.contextmanager
def fifo_reader(path: Path) -> Iterator[list[bytes]]:
    """Make a FIFO at ``path`` and read it in a thread; the bytes read are in the yielded list."""
    os.mkfifo(path)
    got: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as handle:
            got.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        # Unblock a reader whose writer never came (the FIFO was not written, e.g. replaced).
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(timeout=30)
        assert stat.S_ISFIFO(os.lstat(path).st_mode), "the FIFO was replaced"


def linked(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A symlink in one directory to a (not yet existing) file in another: (link, target)."""
    (tmp_path / "links").mkdir(exist_ok=True)
    (tmp_path / "targets").mkdir(exist_ok=True)
    link, target = tmp_path / "links" / name, tmp_path / "targets" / name
    link.symlink_to(target)
    return link, target


def assert_link_kept(link: Path, target: Path) -> None:
    assert link.is_symlink() and os.readlink(link) == str(target)
    for folder in (link.parent, target.parent):
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")], "temporary left"


# -- the helper ---------------------------------------------------------------------------------


def test_atomic_output_writes_a_symlinks_target_and_keeps_the_link(tmp_path):
    link, target = linked(tmp_path, "out.txt")
    for text in (TEXT, TEXT.upper()):  # creates the target, then replaces it
        with atomic_output(link) as handle:
            handle.write(text)
        assert target.read_text(encoding="utf-8") == text
        assert_link_kept(link, target)


def test_atomic_output_writes_into_a_fifo_in_place(tmp_path):
    fifo = tmp_path / "out.fifo"
    with fifo_reader(fifo) as got, atomic_output(fifo) as handle:
        handle.write(TEXT)
    assert got == [TEXT.encode()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fifo"]


def test_atomic_output_writes_into_a_character_device_in_place(tmp_path, device):
    with atomic_output(device, binary=True) as handle:
        handle.write(b"discarded")
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devnull"]


@pytest.mark.parametrize("kind", ["symlink", "fifo", "device"])
def test_move_output_treats_special_files_as_atomic_output_does(tmp_path, kind, request):
    """``move_output`` puts staged files (tracks, gene-model counts) in place."""
    source = tmp_path / "staged.txt"
    source.write_text(TEXT, encoding="utf-8")
    if kind == "symlink":
        link, target = linked(tmp_path, "out.txt")
        move_output(source, link)
        assert target.read_text(encoding="utf-8") == TEXT
        assert_link_kept(link, target)
    elif kind == "fifo":
        with fifo_reader(tmp_path / "out.fifo") as got:
            move_output(source, tmp_path / "out.fifo")
        assert got == [TEXT.encode()]
    else:
        device = request.getfixturevalue("device")
        move_output(source, device)
        assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert not source.exists()


def test_tracks_write_a_symlinked_tracks_target(tmp_path):
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    target = tmp_path / "elsewhere" / "exon.bedGraph"
    target.parent.mkdir()
    (tracks / "exon.bedGraph").symlink_to(target)
    with TrackWriter(tracks, "bedgraph") as writer:
        writer.add("chrA", 0, np.full((10, 5), 0.5, dtype=np.float32))
        writer.end_sequence("chrA", 10)
    assert (tracks / "exon.bedGraph").is_symlink()
    assert "chrA\t0\t10\t0.5" in target.read_text()


# -- the commands -------------------------------------------------------------------------------


def test_annotate_into_fifos_writes_the_regular_files_bytes(
    tmp_path, capsys, genome, reference, tiny_random_model
):
    gff3, proteins = tmp_path / "genes.fifo", tmp_path / "proteins.fifo"
    with fifo_reader(gff3) as got_gff3, fifo_reader(proteins) as got_proteins:
        args = [genome[0], "-m", tiny_random_model, *FAST, "-o", gff3, "--proteins", proteins]
        code, _, err = run_cli(capsys, "annotate", *args)
    assert code == 0, err
    assert got_gff3 == [(reference / "genes.gff3").read_bytes()]
    assert got_proteins == [(reference / "p.faa").read_bytes()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genes.fifo", "proteins.fifo"]


def test_annotate_through_symlinks_writes_their_targets(
    tmp_path, capsys, genome, reference, tiny_random_model
):
    link, target = linked(tmp_path, "genes.gff3")
    plink, ptarget = linked(tmp_path, "p.faa")
    args = [genome[0], "-m", tiny_random_model, *FAST, "-o", link, "--proteins", plink]
    code, _, err = run_cli(capsys, "annotate", *args)
    assert code == 0, err
    assert target.read_bytes() == (reference / "genes.gff3").read_bytes()
    assert ptarget.read_bytes() == (reference / "p.faa").read_bytes()
    assert_link_kept(link, target)
    assert_link_kept(plink, ptarget)
    assert not (tmp_path / "links" / f"genes.gff3{PARTIAL_SUFFIX}").exists()


def test_annotate_to_dev_null_leaves_it_a_character_device(capsys, genome, tiny_random_model):
    args = [genome[0], "-m", tiny_random_model, *FAST, "-o", os.devnull]
    code, _, err = run_cli(capsys, "annotate", *args, "--proteins", os.devnull)
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode)
    assert code == 0, err
    assert not os.path.lexists(os.devnull + PARTIAL_SUFFIX)  # no sidecar in /dev
    assert not [name for name in os.listdir("/dev") if name.startswith(".null.")]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_resume_into_a_device_or_fifo_is_a_one_line_error(
    tmp_path, capsys, genome, tiny_random_model, kind, request
):
    if kind == "fifo":
        output = tmp_path / "genes.fifo"
        os.mkfifo(output)
    else:
        output = request.getfixturevalue("device")
    args = [genome[0], "-m", tiny_random_model, *FAST, "-o", output, "--resume"]
    code, _, err = run_cli(capsys, "annotate", *args)
    assert code == 2
    assert_one_line_error(err, str(output), "--resume", "regular file")
    assert not os.path.lexists(f"{output}{PARTIAL_SUFFIX}")
    mode = os.lstat(output).st_mode
    assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)


@pytest.mark.parametrize("command", ["stats", "convert", "merge", "evaluate"])
def test_other_commands_follow_symlinks_and_write_fifos_in_place(tmp_path, capsys, genome, command):
    fasta, gff3 = genome
    args = {
        "stats": [fasta],
        "convert": [gff3],
        "merge": [gff3],
        "evaluate": [gff3, gff3, "--json"],
    }[command]
    code, expected, err = run_cli(capsys, command, *args)
    assert code == 0 and expected, err
    link, target = linked(tmp_path, "out")
    assert run_cli(capsys, command, *args, "-o", link)[0] == 0
    assert target.read_text(encoding="utf-8") == expected
    assert_link_kept(link, target)
    with fifo_reader(tmp_path / "out.fifo") as got:
        assert run_cli(capsys, command, *args, "-o", tmp_path / "out.fifo")[0] == 0
    assert got == [expected.encode()]


# -- the resume sidecar -------------------------------------------------------------------------


def test_a_rerun_without_resume_says_how_many_finished_sequences_it_discards(
    tmp_path, capsys, genome, reference, tiny_random_model
):
    out = tmp_path / "genes.gff3"
    # What a run killed after two sequences leaves beside its output.
    partial = PartialOutputs(str(out), Distributed())
    partial.start({"an": "earlier run"}, resume=False)
    for index, name in enumerate(LENGTHS):
        partial.finish(index, name, LENGTHS[name], [], "", Outputs(str(out)))
    args = [genome[0], "-m", tiny_random_model, *FAST, "-o", out, "--proteins", tmp_path / "p.faa"]
    code, _, err = run_cli(capsys, "annotate", *args, "--quiet")
    assert code == 0, err
    (notice,) = [line for line in err.splitlines() if "interrupted run" in line]
    assert notice.startswith("genatator: warning: ")
    assert "discarded 2 finished sequences" in notice and "--resume to keep them" in notice
    assert out.read_bytes() == (reference / "genes.gff3").read_bytes()  # really started over
    assert not (tmp_path / f"genes.gff3{PARTIAL_SUFFIX}").exists()


def test_an_empty_sidecar_is_replaced_without_a_notice(tmp_path):
    out = tmp_path / "genes.gff3"
    PartialOutputs(str(out), Distributed()).start({"an": "earlier run"}, resume=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PartialOutputs(str(out), Distributed()).start({"a": "new run"}, resume=False)
