"""Tests for genatator.evaluation.plot: a readable PNG, None-tolerance, atomic write, no extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from genatator.errors import ConfigError
from genatator.evaluation import plot
from genatator.evaluation.plot import write_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def matplotlib_image() -> Any:
    """matplotlib.image for the rendering tests (skipped when matplotlib is not installed)."""
    pytest.importorskip("matplotlib")
    import matplotlib.image

    return matplotlib.image


def _pr(predicted: int, reference: int, matched: int) -> dict[str, Any]:
    precision = matched / predicted if predicted else None
    recall = matched / reference if reference else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    return {
        "predicted": predicted,
        "reference": reference,
        "matched_predicted": matched,
        "matched_reference": matched,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def _rec(found: int, total: int) -> dict[str, Any]:
    return {"found": found, "total": total, "fraction": found / total if total else None}


def _prec(matched: int, predicted: int) -> dict[str, Any]:
    return {
        "matched": matched,
        "predicted": predicted,
        "fraction": matched / predicted if predicted else None,
    }


def make_report(**overrides: Any) -> dict[str, Any]:
    """An evaluation report with realistic numbers; keyword arguments replace top-level keys."""
    report: dict[str, Any] = {
        "prediction": "/data/runs/genatator/pred.gff3",
        "reference": "/data/ref/dmel-all-r6.55.gtf.gz",
        "regions": ["chr2R:17980001-19980000"],
        "counts": {
            "prediction": {
                "transcripts": 1234,
                "coding": 1010,
                "noncoding": 224,
                "unknown": 0,
                "ignored": 0,
            },
            "reference": {
                "transcripts": 1502,
                "coding": 1180,
                "noncoding": 280,
                "unknown": 42,
                "ignored": 4,
                "loci": 905,
                "coding_loci": 702,
                "noncoding_loci": 180,
                "unknown_loci": 23,
            },
        },
        "exon": {
            "all": _pr(6100, 6900, 5000),
            "coding": _pr(5400, 6000, 4700),
            "noncoding": _pr(700, 900, 300),
        },
        "cds": {"coding": _pr(5000, 5600, 4400)},
        "gene": {
            "exon_chain": {
                "recall": {
                    "all": _rec(520, 905),
                    "coding": _rec(470, 702),
                    "noncoding": _rec(50, 180),
                },
                "precision": {
                    "all": _prec(610, 1234),
                    "coding": _prec(560, 1010),
                    "noncoding": _prec(50, 224),
                },
            },
            "intron_chain": {
                "recall": {
                    "all": _rec(600, 905),
                    "coding": _rec(540, 702),
                    "noncoding": _rec(60, 180),
                },
                "precision": {
                    "all": _prec(700, 1234),
                    "coding": _prec(640, 1010),
                    "noncoding": _prec(60, 224),
                },
            },
            "cds_chain": {
                "recall": {"all": _rec(590, 905), "coding": _rec(590, 702)},
                "precision": {"all": _prec(720, 1234), "coding": _prec(720, 1010)},
            },
        },
        "by_length": {
            "edges": [0, 1000, 2000, 5000, 10000, 20000, 50000, None],
            "transcripts": [120, 310, 540, 300, 160, 60, 12],
            "exon_chain": [0.71, 0.66, 0.58, 0.47, 0.35, 0.22, 0.08],
            "intron_chain": [0.83, 0.74, 0.66, 0.55, 0.41, 0.27, 0.17],
            "cds_chain": [0.78, 0.72, 0.64, 0.52, 0.39, 0.25, 0.0],
        },
        "nucleotide": {"ignored": True},
        "tolerance": 0,
    }
    report.update(overrides)
    return report


def _assert_png(path: Path, image_module: Any) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    pixels = image_module.imread(path)
    height, width = pixels.shape[:2]
    assert abs(width - 13 * 120) <= 20
    assert abs(height - 5 * 120) <= 20


def test_writes_a_png_of_the_expected_size(tmp_path: Path, matplotlib_image: Any) -> None:
    out = tmp_path / "eval.png"
    write_plot(make_report(), out)
    _assert_png(out, matplotlib_image)
    assert [p.name for p in tmp_path.iterdir()] == ["eval.png"]


def test_accepts_a_str_path(tmp_path: Path, matplotlib_image: Any) -> None:
    out = tmp_path / "eval.png"
    write_plot(make_report(regions=None), str(out))
    _assert_png(out, matplotlib_image)


def test_none_values_and_missing_classes_do_not_crash(
    tmp_path: Path, matplotlib_image: Any
) -> None:
    report = make_report()
    report["exon"]["noncoding"]["f1"] = None
    del report["cds"]["coding"]
    report["gene"]["exon_chain"]["recall"]["noncoding"]["fraction"] = None
    del report["gene"]["intron_chain"]["precision"]["noncoding"]
    report["gene"]["cds_chain"] = {}
    report["by_length"]["exon_chain"] = [None, 0.5, None, 0.4, None, None, None]
    report["by_length"]["intron_chain"] = [None] * 7
    del report["by_length"]["cds_chain"]
    report["counts"]["prediction"] = {}
    out = tmp_path / "eval.png"
    write_plot(report, out)
    _assert_png(out, matplotlib_image)


@pytest.mark.parametrize(
    "by_length",
    [
        {"edges": [], "transcripts": [], "exon_chain": [], "intron_chain": [], "cds_chain": []},
        {
            "edges": [0, 1000, None],
            "transcripts": [0, 0],
            "exon_chain": [None, None],
            "intron_chain": [None, None],
            "cds_chain": [None, None],
        },
        None,
    ],
    ids=["no-bins", "empty-bins", "absent"],
)
def test_empty_by_length_does_not_crash(
    tmp_path: Path, matplotlib_image: Any, by_length: Any
) -> None:
    report = make_report(by_length=by_length)
    if by_length is None:
        del report["by_length"]
    out = tmp_path / "eval.png"
    write_plot(report, out)
    _assert_png(out, matplotlib_image)


def test_almost_empty_report_does_not_crash(tmp_path: Path, matplotlib_image: Any) -> None:
    out = tmp_path / "eval.png"
    write_plot({"prediction": "p.gff3", "reference": "r.gtf"}, out)
    _assert_png(out, matplotlib_image)


def test_bin_labels_from_edges() -> None:
    edges = [0, 1000, 2000, 5000, 10000, 20000, 50000, None]
    assert plot._bin_labels(edges, 7) == [
        "<1 kb",
        "1–2 kb",
        "2–5 kb",
        "5–10 kb",
        "10–20 kb",
        "20–50 kb",
        "≥50 kb",
    ]
    assert plot._bin_labels([500, 1500], 1) == ["0.5–1.5 kb"]
    assert plot._bin_labels([0, None], 1) == ["all"]
    assert plot._bin_labels([0, 1000], 3) == ["bin 1", "bin 2", "bin 3"]


def test_title_and_footer_name_files_regions_and_counts() -> None:
    report = make_report()
    assert plot._title(report) == "pred.gff3 vs dmel-all-r6.55.gtf.gz — chr2R:17980001-19980000"
    many = make_report(regions=[f"chr{i}:1-100" for i in range(1, 6)])
    assert plot._title(many).endswith("chr3:1-100 (+2 more)")
    footer = plot._footer(report)
    assert "1,234 transcripts" in footer
    assert "905 loci (702 coding, 180 non-coding, 23 unknown)" in footer
    assert "\n" not in footer


def test_failed_render_leaves_no_file(
    tmp_path: Path, matplotlib_image: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(figure: Any, handle: Any) -> None:
        handle.write(PNG_MAGIC + b"half a picture")
        raise RuntimeError("renderer died")

    monkeypatch.setattr(plot, "_save", broken_save)
    out = tmp_path / "eval.png"
    with pytest.raises(RuntimeError, match="renderer died"):
        write_plot(make_report(), out)
    assert list(tmp_path.iterdir()) == []


def test_failed_render_keeps_an_existing_file(
    tmp_path: Path, matplotlib_image: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_draw(ax: Any, report: Any) -> None:
        raise RuntimeError("drawing died")

    monkeypatch.setattr(plot, "_draw_headline", broken_draw)
    out = tmp_path / "eval.png"
    out.write_bytes(b"old plot")
    with pytest.raises(RuntimeError, match="drawing died"):
        write_plot(make_report(), out)
    assert out.read_bytes() == b"old plot"
    assert [p.name for p in tmp_path.iterdir()] == ["eval.png"]


def test_missing_matplotlib_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "eval.png"
    with pytest.raises(ConfigError, match=r"pip install 'genatator\[plot\]'"):
        write_plot(make_report(), out)
    assert list(tmp_path.iterdir()) == []
