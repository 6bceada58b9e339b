"""`genatator evaluate`: table and JSON reports, regions, plots, pipes and bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import assert_one_line_error, run_cli

from genatator.annotation import read_annotation, save_gff3

EXAMPLE_GTF = Path(__file__).resolve().parents[1] / "examples" / "dmel_chr2R_slice.refseq.gtf"
AUGUSTUS_GFF3 = Path(__file__).parent / "data" / "augustus_fly.gff3"


@pytest.fixture
def prediction(tmp_path) -> Path:
    """The example reference with its first multi-exon transcript's second exon removed."""
    annotation = read_annotation(EXAMPLE_GTF)
    transcript = next(t for t in annotation.transcripts() if len(t.exons) > 2)
    transcript.exons.pop(1)
    transcript.cds = [s for s in transcript.cds if any(a <= s[0] < b for a, b in transcript.exons)]
    path = tmp_path / "pred.gff3"
    save_gff3(annotation, path)
    return path


def test_table_report(capsys, prediction):
    code, out, err = run_cli(capsys, "evaluate", prediction, EXAMPLE_GTF)
    assert code == 0, err
    assert out.startswith("prediction: ")
    exon_all = next(line for line in out.splitlines() if line.startswith("exon  "))
    assert "1.000" in exon_all  # nothing wrong was predicted, one exon was missed
    assert "gene: exact CDS chain" in out


def test_json_report_to_file_matches_stdout(capsys, prediction, tmp_path):
    code, out, _ = run_cli(capsys, "evaluate", prediction, EXAMPLE_GTF, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["exon"]["all"]["precision"] == 1.0
    assert report["exon"]["all"]["matched_reference"] == report["exon"]["all"]["reference"] - 1
    code, _, _ = run_cli(
        capsys, "evaluate", prediction, EXAMPLE_GTF, "--json", "-o", tmp_path / "r.json"
    )
    assert code == 0
    assert json.loads((tmp_path / "r.json").read_text()) == report


def test_regions_restrict_both_sides(capsys):
    whole = json.loads(run_cli(capsys, "evaluate", EXAMPLE_GTF, EXAMPLE_GTF, "--json")[1])
    seqid = next(read_annotation(EXAMPLE_GTF).transcripts()).seqid
    first = min(t.start for t in read_annotation(EXAMPLE_GTF).transcripts())
    region = f"{seqid}:1-{first + 20_000}"
    code, out, err = run_cli(
        capsys, "evaluate", EXAMPLE_GTF, EXAMPLE_GTF, "--json", "--regions", region
    )
    assert code == 0, err
    part = json.loads(out)
    assert part["regions"] == [region]
    assert (
        0 < part["counts"]["reference"]["transcripts"] < whole["counts"]["reference"]["transcripts"]
    )
    assert part["exon"]["all"]["f1"] == 1.0


def test_reads_prediction_from_stdin_and_gzip(tmp_path):
    reference = tmp_path / "ref.gtf.gz"
    with gzip.open(reference, "wt") as handle:
        handle.write(EXAMPLE_GTF.read_text())
    result = subprocess.run(
        [sys.executable, "-m", "genatator", "evaluate", "-", str(reference), "--json"],
        input=EXAMPLE_GTF.read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gene"]["exon_chain"]["recall"]["all"]["fraction"] == 1.0


def test_plot_is_written(capsys, prediction, tmp_path):
    pytest.importorskip("matplotlib")
    code, _, err = run_cli(
        capsys, "evaluate", prediction, EXAMPLE_GTF, "--plot", tmp_path / "report.png"
    )
    assert code == 0, err
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prediction_on_other_sequence_names_warns(capsys, prediction):
    code, _, err = run_cli(capsys, "evaluate", prediction, EXAMPLE_GTF)
    assert (code, err) == (0, "")
    # AUGUSTUS's fixture is on "chr2R", the example on "chr2R_10000001_10150000".
    code, out, err = run_cli(capsys, "evaluate", AUGUSTUS_GFF3, EXAMPLE_GTF)
    assert code == 0
    assert "share no sequence name" in err
    assert "8 transcripts (8 coding" in out


@pytest.mark.parametrize(
    ("make_args", "fragments"),
    [
        (lambda d: [d / "missing.gff3", EXAMPLE_GTF], ["missing.gff3"]),
        (lambda d: ["-", "-"], ["standard input"]),
        (lambda d: [EXAMPLE_GTF, EXAMPLE_GTF, "--regions", "chr2R:5-1"], ["--regions"]),
        (lambda d: [EXAMPLE_GTF, EXAMPLE_GTF, "--regions", "chrZ:1-100"], ["no mRNA"]),
        (lambda d: [d / "bad.gff3", EXAMPLE_GTF], ["bad.gff3", "line 2"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, make_args, fragments):
    (tmp_path / "bad.gff3").write_text("##gff-version 3\nchr2R\tx\tgene\t10\n")
    out_path = tmp_path / "report.txt"
    code, out, err = run_cli(capsys, "evaluate", *make_args(tmp_path), "-o", out_path)
    assert code == 2
    assert_one_line_error(err, *fragments)
    assert not out_path.exists()
    assert out == ""


def test_lenient_skips_malformed_lines(capsys, tmp_path):
    broken = tmp_path / "broken.gtf"
    broken.write_text(EXAMPLE_GTF.read_text() + "chr2R\tx\texon\t5\n")
    assert run_cli(capsys, "evaluate", broken, EXAMPLE_GTF)[0] == 2
    code, out, err = run_cli(capsys, "evaluate", broken, EXAMPLE_GTF, "--lenient", "--json")
    assert code == 0
    assert "1 problems skipped" in err
    assert json.loads(out)["exon"]["all"]["f1"] == 1.0
