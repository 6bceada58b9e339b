"""`genatator annotate` and `merge`: the whole path with a tiny random model, pipes, resume,
shards, torchrun, odd inputs and bad input."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from Bio.Seq import Seq
from helpers import assert_valid_gff3, random_dna

from genatator.annotation import read_annotation
from genatator.cli import main
from genatator.decode.calling import call_transcripts
from genatator.genome import reverse_complement
from genatator.inference import TrackBlock
from genatator.labels import CDS, EXON, FIVE_PRIME_UTR, INTRON, THREE_PRIME_UTR
from genatator.partial import PARTIAL_SUFFIX
from genatator.postprocess import SpliceTable, ThresholdOptions

LENGTHS = {"chrA": 14_000, "chrB": 2_500, "chrC": 9_000}
FAST = ["--window", "2000", "--batch-size", "4", "--threads", "1"]


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """Three random sequences (one shorter than a window), soft-masked in part."""
    path = tmp_path_factory.mktemp("annotate") / "genome.fa"
    with path.open("w") as handle:
        for index, (name, length) in enumerate(LENGTHS.items()):
            sequence = random_dna(length, seed=100 + index)
            sequence = sequence[:1000].lower() + sequence[1000:]
            handle.write(f">{name} test sequence\n")
            handle.writelines(sequence[i : i + 70] + "\n" for i in range(0, length, 70))
    return path


def annotate(capsys, *args) -> tuple[int, str]:
    code = main(["annotate", *map(str, args)])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def reference(tmp_path_factory, genome, tiny_random_model):
    """One uninterrupted run with every output, shared by the tests that compare against it."""
    directory = tmp_path_factory.mktemp("reference")
    out = directory / "genes.gff3"
    args = [genome, "-m", tiny_random_model, *FAST, "-o", out]
    args += ["--proteins", directory / "p.faa", "--cds-fasta", directory / "c.fna"]
    args += ["--min-cds-codons", "10"]
    assert main(["annotate", *map(str, args)]) == 0
    return directory


def test_random_model_output_is_valid_sorted_gff3_with_scores(reference, gt_binary):
    out = reference / "genes.gff3"
    assert_valid_gff3(gt_binary, out)
    text = out.read_text()
    assert [line for line in text.splitlines() if line.startswith("##sequence-region")] == [
        "##sequence-region chrA 1 14000",
        "##sequence-region chrB 1 2500",
        "##sequence-region chrC 1 9000",
    ]
    annotation = read_annotation(out)
    assert annotation.genes, "a random model calls some genes; the test needs some"
    for gene in annotation.genes:
        (transcript,) = gene.transcripts
        assert transcript.id == f"{gene.id}.t1" and gene.id.startswith(f"{gene.seqid}.g")
        assert 0.0 <= transcript.score <= 1.0
        assert transcript.kind in ("mRNA", "lnc_RNA", "ncRNA")
        assert transcript.attributes["strand_evidence"] in ("utr", "splice", "default")
    exon_lines = [line.split("\t") for line in text.splitlines() if "\texon\t" in line]
    assert exon_lines and all(0 <= float(fields[5]) <= 1 for fields in exon_lines)


def test_proteins_and_cds_fasta_translate_the_gff3_cds(reference, genome):
    sequences = {k: v.upper() for k, v in read_fasta_dict(genome).items()}
    proteins = read_fasta_dict(reference / "p.faa")
    cds = read_fasta_dict(reference / "c.fna")
    coding = [t for t in read_annotation(reference / "genes.gff3").transcripts() if t.cds]
    assert coding, "with --min-cds-codons 10 a random model calls coding genes"
    assert sorted(proteins) == sorted(t.id for t in coding) == sorted(cds)
    for transcript in coding:
        spliced = "".join(sequences[transcript.seqid][a:b] for a, b in transcript.cds)
        if transcript.strand == "-":
            spliced = reverse_complement(spliced)
        assert cds[transcript.id] == spliced
        assert spliced[:3] == "ATG" and len(spliced) % 3 == 0
        assert proteins[transcript.id] + "*" == str(Seq(spliced).translate())


def read_fasta_dict(path) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    name = None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            out[name] = []
        else:
            out[name].append(line)
    return {k: "".join(v) for k, v in out.items()}


def test_output_is_reproducible_and_pipes_through_stdin_and_stdout(
    reference, genome, tiny_random_model
):
    args = ["-", "-m", tiny_random_model, *FAST, "--min-cds-codons", "10", "-q"]
    command = [sys.executable, "-m", "genatator", "annotate", *map(str, args)]
    with genome.open("rb") as stdin:
        result = subprocess.run(command, stdin=stdin, capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == (reference / "genes.gff3").read_text()
    assert result.stderr == b""  # --quiet: nothing but warnings


def test_upper_case_gzip_input_gives_the_same_genes(
    tmp_path, capsys, genome, reference, tiny_random_model
):
    upper = tmp_path / "upper.fa.gz"
    with gzip.open(upper, "wt") as handle:
        lines = genome.read_text().splitlines(keepends=True)
        handle.writelines(line if line.startswith(">") else line.upper() for line in lines)
    out = tmp_path / "out.gff3"
    args = [upper, "-m", tiny_random_model, *FAST, "--min-cds-codons", "10", "-o", out]
    assert annotate(capsys, *args)[0] == 0
    assert out.read_text() == (reference / "genes.gff3").read_text()


def test_a_killed_run_resumes_to_the_same_bytes(tmp_path, genome, reference, tiny_random_model):
    out = tmp_path / "genes.gff3"
    args = [genome, "-m", tiny_random_model, *FAST, "--min-cds-codons", "10", "-o", out]
    args += ["--proteins", tmp_path / "p.faa", "--cds-fasta", tmp_path / "c.fna"]
    command = [sys.executable, "-m", "genatator", "annotate", *map(str, args)]
    sidecar = tmp_path / f"genes.gff3{PARTIAL_SUFFIX}"
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (sidecar / "00000000.json").is_file() and time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"annotate exited before finishing a sequence: {process.stderr.read()}")
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()  # nothing half-written at the destination
    assert not (sidecar / "00000002.json").exists()  # it really was cut short

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "kept from the interrupted run" in resumed.stderr
    for name in ("genes.gff3", "p.faa", "c.fna"):
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name
    assert not sidecar.exists()


def test_resume_refuses_a_run_started_with_other_options(
    tmp_path, capsys, genome, tiny_random_model
):
    out = tmp_path / "genes.gff3"
    sidecar = tmp_path / f"genes.gff3{PARTIAL_SUFFIX}"
    sidecar.mkdir()
    (sidecar / "run.json").write_text(json.dumps({"options": "something else"}))
    args = [genome, "-m", tiny_random_model, *FAST, "-o", out, "--resume"]
    code, err = annotate(capsys, *args)
    assert code == 2 and "another genome, model or options" in err
    assert not out.exists()


def test_shards_merge_into_the_unsharded_output(
    tmp_path, capsys, genome, reference, tiny_random_model
):
    parts = []
    for index in (1, 2):
        part = tmp_path / f"shard{index}.gff3"
        args = [genome, "-m", tiny_random_model, *FAST, "--min-cds-codons", "10", "-o", part]
        assert annotate(capsys, *args, "--shard", f"{index}/2")[0] == 0
        parts.append(part)
    seqids = [{g.seqid for g in read_annotation(p).genes} for p in parts]
    assert not seqids[0] & seqids[1]
    merged = tmp_path / "merged.gff3"
    assert main(["merge", *map(str, parts), "-o", str(merged)]) == 0
    assert merged.read_text() == (reference / "genes.gff3").read_text()


def test_torchrun_two_processes_match_one_process(tmp_path, genome, reference, tiny_random_model):
    out = tmp_path / "genes.gff3"
    args = [genome, "-m", tiny_random_model, *FAST, "--min-cds-codons", "10", "-o", out]
    args += ["--proteins", tmp_path / "p.faa", "--cds-fasta", tmp_path / "c.fna"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", "-m", "genatator", "annotate", *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("genes.gff3", "p.faa", "c.fna"):
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name


def test_regions_restrict_the_prediction(tmp_path, capsys, genome, gt_binary, tiny_random_model):
    out = tmp_path / "genes.gff3"
    args = [genome, "-m", tiny_random_model, *FAST, "-o", out, "--regions", "chrA:2001-9000"]
    assert annotate(capsys, *args)[0] == 0
    assert_valid_gff3(gt_binary, out)
    annotation = read_annotation(out)
    assert annotation.sequence_lengths == {"chrA": 14_000}
    assert all(g.start >= 2000 and g.end <= 9000 for g in annotation.genes)


def test_the_summary_counts_in_proper_english(tmp_path, capsys, tiny_random_model):
    one = tmp_path / "one.fa"
    one.write_text(">only\n" + "N" * 3000 + "\n")
    code, err = annotate(capsys, one, "-m", tiny_random_model, "-o", tmp_path / "o.gff3", *FAST)
    assert code == 0, err
    assert "annotated 1 sequence (3000 bp)" in err and ": 0 genes, 0 coding" in err


def test_n_only_and_tiny_inputs_give_valid_files(tmp_path, capsys, gt_binary, tiny_random_model):
    # A FASTA without records is an error (tests/test_hostile_inputs.py), not an empty GFF3.
    odd = tmp_path / "odd.fa"
    odd.write_text(">gap\n" + "N" * 5000 + "\n>tiny\nACGTAC\n>short\n" + random_dna(700, 3) + "\n")
    out = tmp_path / "odd.gff3"
    code, err = annotate(capsys, odd, "-m", tiny_random_model, "-o", out, *FAST)
    assert code == 0, err
    assert_valid_gff3(gt_binary, out)
    annotation = read_annotation(out)
    assert annotation.sequence_lengths == {"gap": 5000, "tiny": 6, "short": 700}
    assert not [g for g in annotation.genes if g.seqid == "gap"]  # no prediction in N


def test_tracks_cover_every_base(tmp_path, capsys, genome, tiny_random_model):
    out, tracks = tmp_path / "genes.gff3", tmp_path / "tracks"
    args = [genome, "-m", tiny_random_model, *FAST, "-o", out, "--tracks", tracks]
    assert annotate(capsys, *args, "--track-format", "bedgraph")[0] == 0
    names = sorted(p.name for p in tracks.iterdir())
    assert names == sorted(
        f"{c}.bedGraph" for c in ("five_prime_UTR", "exon", "intron", "three_prime_UTR", "CDS")
    )
    covered: dict[str, int] = {}
    for line in (tracks / "exon.bedGraph").read_text().splitlines():
        if line.startswith("track"):
            continue
        seqid, start, end, value = line.split("\t")
        assert covered.get(seqid, 0) == int(start)  # contiguous from 0
        assert 0.0 <= float(value) <= 1.0
        covered[seqid] = int(end)
    assert covered == LENGTHS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.fa"], "missing.fa"),
        (["--shard", "3/2"], "--shard"),
        (["--regions", "chrZ:1-100"], "chrZ"),
        (["--overlap", "1.5"], "--overlap"),
        (["--device", "cuda:7"], "cuda"),
        (["--model", "/nonexistent/model"], "/nonexistent/model"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(
    tmp_path, capsys, genome, args, message, tiny_random_model
):
    out = tmp_path / "genes.gff3"
    base = [genome, "-m", tiny_random_model, *FAST, "-o", out]
    if args[0] == "missing.fa":
        base[0], args = tmp_path / "missing.fa", []
    code, err = annotate(capsys, *base, *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / f"genes.gff3{PARTIAL_SUFFIX}").exists()


def test_not_fasta_input_is_rejected(tmp_path, capsys, tiny_random_model):
    bad = tmp_path / "bad.fa"
    bad.write_text("this is not fasta\n")
    out = tmp_path / "genes.gff3"
    code, err = annotate(capsys, bad, "-m", tiny_random_model, "-o", out)
    errors = [line for line in err.splitlines() if line.startswith("genatator: error")]
    assert code == 2 and len(errors) == 1 and "bad.fa" in errors[0]
    assert not out.exists()


# -- streaming post-processing, independent of the model -----------------------------------------


def planted_track(length: int, seed: int) -> tuple[np.ndarray, str]:
    """Probabilities with two clean coding genes (+ and -) and the DNA to match."""
    rng = np.random.default_rng(seed)
    bases = np.array(list(random_dna(length, seed)))
    track = np.full((length, 5), 0.05, dtype=np.float32)

    def plant(exons, cds, five, three, strand):
        left, right = ("GT", "AG") if strand == "+" else ("CT", "AC")  # genome order
        for a, b in zip([e[1] for e in exons[:-1]], [e[0] for e in exons[1:]]):
            track[a:b, INTRON] = 0.9
            bases[a : a + 2], bases[b - 2 : b] = list(left), list(right)
        for a, b in exons:
            track[a:b, EXON] = 0.95
        track[cds[0] : cds[1], CDS] = 0.9
        track[five[0] : five[1], FIVE_PRIME_UTR] = 0.9
        track[three[0] : three[1], THREE_PRIME_UTR] = 0.9

    plant([(1000, 1300), (1500, 1800)], (1100, 1700), (1000, 1100), (1700, 1800), "+")
    plant([(5000, 5400), (5600, 5900)], (5100, 5800), (5800, 5900), (5000, 5100), "-")
    track += rng.uniform(0, 0.02, track.shape).astype(np.float32)
    return track, "".join(bases)


@pytest.mark.parametrize("block_size", [137, 1000, 4096, 10_000])
def test_streamed_transcripts_do_not_depend_on_the_block_size(block_size):
    track, sequence = planted_track(8000, seed=5)
    options = ThresholdOptions(cds_mode="orf", min_cds_codons=1)
    blocks = [
        TrackBlock(start, track[start : start + block_size])
        for start in range(0, len(track), block_size)
    ]
    got = list(
        call_transcripts(
            blocks,
            sequence,
            seqid="s",
            offset=0,
            options=options,
            splice_table=SpliceTable.canonical(),
        )
    )
    whole = list(
        call_transcripts(
            [TrackBlock(0, track)],
            sequence,
            seqid="s",
            offset=0,
            options=options,
            splice_table=SpliceTable.canonical(),
        )
    )
    assert [(t.strand, t.exons, t.cds) for t in got] == [(t.strand, t.exons, t.cds) for t in whole]
    assert [(t.strand, t.exons) for t in got] == [
        ("+", [(1000, 1300), (1500, 1800)]),
        ("-", [(5000, 5400), (5600, 5900)]),
    ]
