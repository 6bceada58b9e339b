"""Tests of genatator.splice.sites and genatator.splice.dataset on a hand-built genome and GFF3."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from genatator.annotation.read import read_annotation
from genatator.errors import ConfigError, GenatatorWarning, InputError
from genatator.genome import reverse_complement
from genatator.regions import Region
from genatator.splice.dataset import (
    WHOLE_SEQUENCE_END,
    ExtractOptions,
    extract_dataset,
    load_split,
    parse_split,
    read_manifest,
)
from genatator.splice.sites import (
    MotifReport,
    SpliceSite,
    motif_positions,
    motif_report,
    site_motifs,
    splice_sites,
    unique_introns,
)
from genatator.splice.windows import ACCEPTOR, DONOR, NEITHER, decode, encode

W = 64  # window used throughout: site base at index 32
C = W // 2

# Transcripts: (id, gene, seqid, strand, type, exons 0-based half-open).
TRANSCRIPTS = [
    ("T1", "G1", "chr1", "+", "mRNA", [(100, 200), (300, 400), (500, 600)]),
    # Shares T1's first intron, skips exon 3 for a new one at 700-800.
    ("T2", "G1", "chr1", "+", "mRNA", [(100, 200), (300, 400), (700, 800)]),
    ("T3", "G2", "chr1", "-", "mRNA", [(1000, 1100), (1200, 1300), (1500, 1600)]),
    ("T7", "G7", "chr1", "+", "mRNA", [(1800, 1850), (1900, 1950)]),
    ("T4", "G4", "chr1", "+", "mRNA", [(2000, 2300)]),  # single exon: no sites
    ("T5", "G5", "chr1", "+", "ncRNA", [(2500, 2600), (2700, 2800)]),
    ("T6", "G6", "chr1", "+", "mRNA", [(2850, 2960), (2975, 2995)]),
    ("T8", "G8", "chr2", "+", "mRNA", [(100, 200), (400, 500)]),
]
# Genomic letters written at 0-based positions (minus-strand motifs already reverse complemented).
PLANTED = {
    "chr1": {
        200: "GT", 298: "AG", 400: "GT", 498: "AG", 698: "AG",  # T1/T2, + strand
        1198: "AA", 1100: "CT",  # T3 intron 1100-1200 on -: donor TT (= rc AA), acceptor AG
        1498: "AC", 1300: "CT",  # T3 intron 1300-1500 on -: GT-AG
        1850: "GC", 1898: "AG",  # T7: GC-AG
        1905: "N" * 35,  # N run in T7's second exon: its acceptor window is N-heavy
        2600: "GT", 2698: "AG",  # T5 (ncRNA)
        2960: "AT", 2973: "AC",  # T6: AT-AC, acceptor 2974 too close to the end for a window
    },
    "chr2": {200: "GT", 398: "AG"},
}  # fmt: skip
LENGTHS = {"chr1": 3000, "chr2": 1000}

# Expected sites of the default kinds (mRNA), worked out by hand from the exons above:
# + intron [s, e): donor s, acceptor e - 1;  - intron [s, e): donor e - 1, acceptor s.
EXPECTED_SITES = [
    ("chr1", "+", 200, DONOR, 2),  # T1, T2 intron 200-300
    ("chr1", "+", 299, ACCEPTOR, 2),
    ("chr1", "+", 400, DONOR, 2),  # T1 400-500 and T2 400-700
    ("chr1", "+", 499, ACCEPTOR, 1),
    ("chr1", "+", 699, ACCEPTOR, 1),
    ("chr1", "-", 1100, ACCEPTOR, 1),  # T3 intron 1100-1200
    ("chr1", "-", 1199, DONOR, 1),
    ("chr1", "-", 1300, ACCEPTOR, 1),  # T3 intron 1300-1500
    ("chr1", "-", 1499, DONOR, 1),
    ("chr1", "+", 1850, DONOR, 1),  # T7 intron 1850-1900
    ("chr1", "+", 1899, ACCEPTOR, 1),
    ("chr1", "+", 2960, DONOR, 1),  # T6 intron 2960-2975
    ("chr1", "+", 2974, ACCEPTOR, 1),
    ("chr2", "+", 200, DONOR, 1),  # T8 intron 200-400
    ("chr2", "+", 399, ACCEPTOR, 1),
]
# Rows expected in the dataset: all of the above except 1899 (N-heavy) and 2974 (off the end).
EXPECTED_ROWS = {
    (s, p, 1 if st == "+" else -1, k) for s, st, p, k, _ in EXPECTED_SITES if p not in (1899, 2974)
}
# Every site of every transcript (T5 included) per (seqid, strand): negatives stay away from them.
ALL_SITES = {
    ("chr1", 1): [200, 299, 400, 499, 699, 1850, 1899, 2600, 2699, 2960, 2974],
    ("chr1", -1): [1100, 1199, 1300, 1499],
    ("chr2", 1): [200, 399],
}
# Spans of the mRNA transcripts per (seqid, strand): where decoys may be.
GENE_SPANS = {
    ("chr1", 1): [(100, 800), (1800, 1950), (2000, 2300), (2850, 2995)],
    ("chr1", -1): [(1000, 1600)],
    ("chr2", 1): [(100, 500)],
}


def make_sequences() -> dict[str, str]:
    rng = np.random.default_rng(11)
    sequences = {}
    for name, length in LENGTHS.items():
        bases = list(decode(rng.integers(0, 4, length)))
        for position, letters in PLANTED[name].items():
            bases[position : position + len(letters)] = letters
        sequences[name] = "".join(bases)
    return sequences


SEQUENCES = make_sequences()


def write_fasta(path, sequences: dict[str, str]):
    with open(path, "w") as handle:
        for name, sequence in sequences.items():
            handle.write(f">{name}\n")
            for i in range(0, len(sequence), 60):
                handle.write(sequence[i : i + 60] + "\n")
    return path


def write_gff(path, transcripts=TRANSCRIPTS):
    lines = ["##gff-version 3"]
    genes: dict[str, list] = {}
    for tx in transcripts:
        genes.setdefault(tx[1], []).append(tx)
    for gene, members in genes.items():
        seqid, strand = members[0][2], members[0][3]
        start = min(t[5][0][0] for t in members)
        end = max(t[5][-1][1] for t in members)
        gene_type = "gene" if members[0][4] == "mRNA" else "ncRNA_gene"
        lines.append(f"{seqid}\tt\t{gene_type}\t{start + 1}\t{end}\t.\t{strand}\t.\tID={gene}")
        for tid, _, _, _, kind, exons in members:
            lo, hi = exons[0][0] + 1, exons[-1][1]
            lines.append(f"{seqid}\tt\t{kind}\t{lo}\t{hi}\t.\t{strand}\t.\tID={tid};Parent={gene}")
            for s, e in exons:
                lines.append(f"{seqid}\tt\texon\t{s + 1}\t{e}\t.\t{strand}\t.\tParent={tid}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def inputs(tmp_path):
    return write_fasta(tmp_path / "g.fa", SEQUENCES), write_gff(tmp_path / "a.gff3")


def extract(inputs, out, **options):
    options.setdefault("window", W)
    return extract_dataset(*inputs, out, ExtractOptions(**options))


def extract_rows(inputs, out, **options) -> dict[str, np.ndarray]:
    extract(inputs, out, **options)
    return all_rows(out)


def all_rows(out) -> dict[str, np.ndarray]:
    parts = [load_split(out, split) for split in ("train", "val", "test")]
    return {
        key: np.concatenate([getattr(p, key) for p in parts])
        for key in ("windows", "labels", "source", "seqid", "position", "strand")
    }


def row_keys(rows, names, mask=None):
    mask = np.ones(len(rows["labels"]), dtype=bool) if mask is None else mask
    return {
        (names[i], int(p), int(s), int(k))
        for i, p, s, k in zip(
            rows["seqid"][mask], rows["position"][mask], rows["strand"][mask], rows["labels"][mask]
        )
    }


# --- sites ---------------------------------------------------------------------------------------


def test_splice_sites_exact_on_both_strands(inputs):
    genes = read_annotation(inputs[1]).genes
    kinds = {t.id: t.kind for g in genes for t in g.transcripts}
    assert kinds == {"T1": "mRNA", "T2": "mRNA", "T3": "mRNA", "T4": "mRNA", "T5": "ncRNA"} | {
        "T6": "mRNA",
        "T7": "mRNA",
        "T8": "mRNA",
    }
    sites = splice_sites(genes, {"mRNA"})
    assert sites == [SpliceSite(*site) for site in EXPECTED_SITES]
    # Transcript starts and ends (either side of the boundary) are never sites.
    ends = {100, 99, 599, 600, 799, 800, 1000, 999, 1600, 1599, 1800, 1949, 1950, 2000, 2299}
    assert not {s.position for s in sites if s.seqid == "chr1"} & ends
    everything = splice_sites(genes)
    extra = [(s.position, s.kind) for s in everything if s not in sites]
    assert extra == [(2600, DONOR), (2699, ACCEPTOR)]
    assert splice_sites(genes, {"lnc_RNA"}) == []


def test_unique_introns_and_motif_report(inputs):
    genes = read_annotation(inputs[1]).genes
    introns = unique_introns(genes, {"mRNA"})
    assert introns == [
        ("chr1", "+", 200, 300),
        ("chr1", "+", 400, 500),
        ("chr1", "+", 400, 700),
        ("chr1", "-", 1100, 1200),
        ("chr1", "-", 1300, 1500),
        ("chr1", "+", 1850, 1900),
        ("chr1", "+", 2960, 2975),
        ("chr2", "+", 200, 400),
    ]
    report = motif_report(introns, SEQUENCES)
    assert report.counts == {"GT-AG": 5, "GC-AG": 1, "AT-AC": 1, "TT-AG": 1}
    assert report.total == 8 and report.skipped == 0
    assert report.fractions == {"GT-AG": 5 / 8, "GC-AG": 1 / 8, "AT-AC": 1 / 8, "other": 1 / 8}
    assert report.top_other() == [("TT-AG", 1)]
    text = report.format()
    assert "GT-AG 62.50%" in text and "TT-AG 1" in text and "Only 87.5% use a known" in text
    assert "check that" not in MotifReport({"GT-AG": 99, "CT-AC": 1}).format()
    # A sequence missing from the mapping is skipped, and codes work as well as strings.
    partial = motif_report(introns, {"chr1": encode(SEQUENCES["chr1"])})
    assert partial.total == 7 and partial.skipped == 1
    summed = partial + MotifReport({"GT-AG": 1})
    assert summed.to_dict()["counts"]["GT-AG"] == 5 and summed.to_dict()["skipped"] == 1
    assert MotifReport().fractions["other"] == 0.0


def brute_motif(sequence: str, position: int, strand: int, kind: int) -> str:
    """Transcript-orientation motif from the reverse-complemented string (independent route)."""
    padded = "NNNN" + sequence + "NNNN"
    if strand < 0:
        padded = reverse_complement(padded)
        position = len(sequence) - 1 - position
    i = position + 4
    return padded[i : i + 2] if kind == DONOR else padded[i - 1 : i + 1]


def test_site_motifs_and_motif_positions_match_brute_force():
    rng = np.random.default_rng(3)
    sequence = decode(rng.integers(0, 5, 300))  # N included
    codes = encode(sequence)
    positions = np.arange(-2, 302)
    for strand in (1, -1):
        for kind in (DONOR, ACCEPTOR):
            got = [decode(m) for m in site_motifs(codes, positions, strand, kind)]
            want = [brute_motif(sequence, int(p), strand, kind) for p in positions]
            assert got == want
            for motif in ("GT", "AG", "AC"):
                found = motif_positions(codes, motif, "+" if strand > 0 else "-", kind)
                expected = [int(p) for p, m in zip(positions, want) if m == motif]
                assert found.tolist() == expected
    string_strands = site_motifs(codes, [10, 10], ["+", "-"], DONOR)
    assert [decode(m) for m in string_strands] == [
        brute_motif(sequence, 10, 1, DONOR),
        brute_motif(sequence, 10, -1, DONOR),
    ]


# --- dataset: content ----------------------------------------------------------------------------


@pytest.fixture
def dataset(inputs, tmp_path):
    out = tmp_path / "data"
    manifest = extract(inputs, out)
    return out, manifest


def test_positives_labels_windows_and_drops(dataset):
    out, manifest = dataset
    names = manifest["sequences"]
    assert names == ["chr1", "chr2"]
    rows = all_rows(out)
    positive = rows["source"] == 0
    assert row_keys(rows, names, positive) == EXPECTED_ROWS
    assert set(rows["labels"][~positive].tolist()) == {NEITHER}
    for window, seqid, p, strand, label, source in zip(
        rows["windows"],
        rows["seqid"],
        rows["position"],
        rows["strand"],
        rows["labels"],
        rows["source"],
    ):
        sequence = SEQUENCES[names[seqid]]
        text = decode(window)
        if strand > 0:
            assert text == sequence[p - C : p + C]
        else:  # the window is the reverse complement of genome[p - 31 : p + 33]
            assert text == reverse_complement(sequence[p - C + 1 : p + C + 1])
        if label == DONOR and (names[seqid], p) not in {("chr1", 1199), ("chr1", 1850)}:
            assert text[C : C + 2] in ("GT", "AT")
        if label == ACCEPTOR:
            assert text[C - 1 : C + 1] in ("AG", "AC")
        if source:
            assert text[C : C + 2] == "GT" or text[C - 1 : C + 1] == "AG"
        assert text.count("N") <= 0.1 * W
    # Hand-checked motifs of the odd sites.
    by_key = {
        (names[s], int(p)): decode(w)
        for s, p, w in zip(rows["seqid"], rows["position"], rows["windows"])
    }
    assert by_key["chr1", 1199][C : C + 2] == "TT"
    assert by_key["chr1", 1850][C : C + 2] == "GC"
    assert by_key["chr1", 2960][C : C + 2] == "AT"
    assert by_key["chr1", 1499][C : C + 2] == "GT"
    assert by_key["chr1", 1100][C - 1 : C + 1] == "AG"
    dropped = manifest["dropped"]
    assert dropped["off_end"] == {"donor": 0, "acceptor": 1, "neither": 0}
    assert dropped["n_heavy"]["donor"] == 0 and dropped["n_heavy"]["acceptor"] == 1
    assert dropped["straddles_split"] == {"donor": 0, "acceptor": 0, "neither": 0}
    assert manifest["sites"] == {"introns": 8, "donor": 7, "acceptor": 8}


def test_negatives_margin_motif_decoys_in_genes(dataset):
    out, manifest = dataset
    names = manifest["sequences"]
    rows = all_rows(out)
    for seqid, p, strand, source in zip(
        rows["seqid"], rows["position"], rows["strand"], rows["source"]
    ):
        if source == 0:
            continue
        key = (names[seqid], int(strand))
        sites = np.array(ALL_SITES.get(key, [10**6]))  # chr2 - has no sites
        assert np.min(np.abs(sites - p)) >= 50, (key, p)
        in_gene = any(s <= p < e for s, e in GENE_SPANS.get(key, []))
        if source == 1:
            assert in_gene, (key, p)
    random = rows["source"] == 2
    # Random negatives come from anywhere: some lie outside every gene, some on the - strand.
    outside = [
        not any(s <= p < e for s, e in GENE_SPANS.get((names[i], int(st)), []))
        for i, p, st in zip(rows["seqid"][random], rows["position"][random], rows["strand"][random])
    ]
    assert any(outside) and (rows["strand"][random] < 0).any()
    # Ratio 1: one decoy and one random negative per kept positive of each class.
    negatives = manifest["negatives"]
    assert negatives["decoy"]["donor_like"] == {"requested": 7, "sampled": 7}
    assert negatives["decoy"]["acceptor_like"] == {"requested": 6, "sampled": 6}
    assert negatives["random"]["donor_like"] == {"requested": 7, "sampled": 7}
    assert negatives["random"]["acceptor_like"] == {"requested": 6, "sampled": 6}
    n_neg_dropped = manifest["dropped"]["n_heavy"]["neither"]
    assert int(np.count_nonzero(rows["source"] > 0)) == 26 - n_neg_dropped
    # No duplicate rows.
    keys = set(zip(rows["seqid"].tolist(), rows["position"].tolist(), rows["strand"].tolist()))
    assert len(keys) == len(rows["labels"])


def test_manifest_counts_match_arrays_and_round_trip(dataset):
    out, manifest = dataset
    assert read_manifest(out) == json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "genatator-splice-data" and manifest["version"] == 1
    assert manifest["inputs"]["genome"]["size_bytes"] > 4000
    assert manifest["options"]["window"] == W and manifest["options"]["kinds"][0] == "mRNA"
    for split in ("train", "val", "test"):
        data = load_split(out, split)
        with np.load(out / f"{split}.npz") as raw:
            for key in ("windows", "labels", "source", "seqid", "position", "strand"):
                np.testing.assert_array_equal(getattr(data, key), raw[key])
                assert getattr(data, key).dtype == raw[key].dtype
        assert data.windows.dtype == np.uint8 and data.windows.shape == (len(data), W)
        assert data.sequences == ["chr1", "chr2"] and data.window == W
        order = np.lexsort((data.strand, data.position, data.seqid))
        np.testing.assert_array_equal(order, np.arange(len(data)))
        counts = manifest["counts"][split]
        assert counts["donor"]["positive"] == int(np.count_nonzero(data.labels == DONOR))
        assert counts["acceptor"]["positive"] == int(np.count_nonzero(data.labels == ACCEPTOR))
        assert counts["neither"]["decoy"] == int(np.count_nonzero(data.source == 1))
        assert counts["neither"]["random"] == int(np.count_nonzero(data.source == 2))
    assert len(load_split(out, "val")) == 0 and len(load_split(out, "test")) == 0
    assert manifest["counts"]["train"]["donor"]["positive"] == 7


def test_splits_by_region(inputs, tmp_path):
    out = tmp_path / "split"
    val = parse_split("chr1:951-1650", "--val")  # holds gene G2 (- strand, 1000-1600) whole
    test = parse_split("chr1:2941-3000,chr2", "--test")  # cuts T6's donor window 2928-2992
    manifest = extract(inputs, out, val=val, test=test)
    names = manifest["sequences"]
    splits = {s: load_split(out, s) for s in ("train", "val", "test")}

    def bounds(data):
        start = np.where(data.strand > 0, data.position - C, data.position - C + 1)
        return start, start + W

    def positives(data):
        rows = {k: getattr(data, k) for k in ("seqid", "position", "strand", "labels")}
        return {(n, p, k) for n, p, _, k in row_keys(rows, names, data.source == 0)}

    assert positives(splits["val"]) == {
        ("chr1", 1100, ACCEPTOR),
        ("chr1", 1199, DONOR),
        ("chr1", 1300, ACCEPTOR),
        ("chr1", 1499, DONOR),
    }
    assert positives(splits["test"]) == {("chr2", 200, DONOR), ("chr2", 399, ACCEPTOR)}
    assert {p for _, p, _ in positives(splits["train"])} == {200, 299, 400, 499, 699, 1850}
    assert manifest["dropped"]["straddles_split"]["donor"] == 1  # chr1 2960
    assert manifest["dropped"]["straddles_split"]["acceptor"] == 0
    start, end = bounds(splits["val"])
    assert (splits["val"].seqid == 0).all() and (start >= 950).all() and (end <= 1650).all()
    test_data = splits["test"]
    start, end = bounds(test_data)
    on_chr1 = test_data.seqid == 0
    assert (start[on_chr1] >= 2940).all() and (end[on_chr1] <= 3000).all()
    assert set(names[i] for i in test_data.seqid) <= {"chr1", "chr2"}
    train = splits["train"]
    start, end = bounds(train)
    assert (train.seqid == 0).all()
    assert not ((start < 1650) & (end > 950)).any() and not (end > 2940).any()
    keys = [
        set(zip(d.seqid.tolist(), d.position.tolist(), d.strand.tolist())) for d in splits.values()
    ]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    # Splitting only moves or drops rows: the same rows as without splits.
    unsplit = extract_rows(inputs, tmp_path / "unsplit")
    straddled = sum(manifest["dropped"]["straddles_split"].values())
    assert sum(len(d) for d in splits.values()) + straddled == len(unsplit["labels"])
    assert manifest["options"]["test"] == ["chr1:2941-3000", "chr2"]


def test_determinism_and_seed(inputs, tmp_path):
    a = extract_rows(inputs, tmp_path / "a")
    b = extract_rows(inputs, tmp_path / "b")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = extract_rows(inputs, tmp_path / "c", seed=1)
    assert not np.array_equal(a["position"], c["position"])
    np.testing.assert_array_equal(a["position"][a["source"] == 0], c["position"][c["source"] == 0])


def test_canonical_only_kinds_and_ratios(inputs, tmp_path):
    manifest = extract(inputs, tmp_path / "canon", canonical_only=True)
    rows = all_rows(tmp_path / "canon")
    positive = row_keys(rows, manifest["sequences"], rows["source"] == 0)
    assert positive == EXPECTED_ROWS - {("chr1", 1199, -1, DONOR)}
    assert manifest["dropped"]["non_canonical"] == {"donor": 1, "acceptor": 0, "neither": 0}

    manifest = extract(inputs, tmp_path / "all", kinds=None, decoy_ratio=2.0, random_ratio=0.0)
    rows = all_rows(tmp_path / "all")
    positive = row_keys(rows, manifest["sequences"], rows["source"] == 0)
    assert positive == EXPECTED_ROWS | {("chr1", 2600, 1, DONOR), ("chr1", 2699, 1, ACCEPTOR)}
    assert manifest["motifs"]["total"] == 9
    assert manifest["motifs"]["fractions"]["GT-AG"] == pytest.approx(6 / 9)
    assert not (rows["source"] == 2).any()
    assert manifest["negatives"]["decoy"]["donor_like"]["requested"] == 16
    assert manifest["options"]["kinds"] is None


def test_margin_zero_never_samples_a_site(inputs, tmp_path):
    manifest = extract(inputs, tmp_path / "m0", margin=0, decoy_ratio=20.0, random_ratio=20.0)
    rows = all_rows(tmp_path / "m0")
    names = manifest["sequences"]
    for seqid, p, strand, source in zip(
        rows["seqid"], rows["position"], rows["strand"], rows["source"]
    ):
        if source:
            assert int(p) not in ALL_SITES.get((names[seqid], int(strand)), [])


def test_motif_report_logged_and_n_threshold(inputs, tmp_path):
    lines: list[str] = []
    extract_dataset(*inputs, tmp_path / "log", ExtractOptions(window=W), log=lines.append)
    assert any("GT-AG 62.50%" in line for line in lines)
    # With N allowed everywhere the N-heavy acceptor comes back.
    manifest = extract(inputs, tmp_path / "n", max_n_fraction=1.0)
    rows = all_rows(tmp_path / "n")
    assert ("chr1", 1899, 1, ACCEPTOR) in row_keys(rows, manifest["sequences"])
    assert manifest["dropped"]["n_heavy"]["acceptor"] == 0


# --- errors and options --------------------------------------------------------------------------


def test_errors(inputs, tmp_path):
    fasta, gff = inputs
    single = write_gff(tmp_path / "single.gff3", [t for t in TRANSCRIPTS if t[0] == "T4"])
    with pytest.raises(InputError, match="no introns"):
        extract((fasta, single), tmp_path / "x1")
    with pytest.raises(InputError, match="no introns"):
        extract(inputs, tmp_path / "x2", kinds=("lnc_RNA",))
    other = write_fasta(tmp_path / "other.fa", {"scaffold_1": SEQUENCES["chr1"]})
    with pytest.raises(InputError, match=r"chr1, chr2.*scaffold_1") as error:
        extract((other, gff), tmp_path / "x3")
    assert "other.fa" in str(error.value)
    short = write_fasta(tmp_path / "short.fa", {"chr1": SEQUENCES["chr1"][:1000]})
    with pytest.raises(InputError, match=r"T6.*past the end of sequence chr1") as error:
        extract((short, gff), tmp_path / "x4")
    assert "a.gff3" in str(error.value)
    assert not any(p.name.startswith(".x") for p in tmp_path.iterdir())  # no temp dir left


def test_missing_sequence_warns(inputs, tmp_path):
    only_chr1 = write_fasta(tmp_path / "chr1.fa", {"chr1": SEQUENCES["chr1"]})
    with pytest.warns(GenatatorWarning, match="chr2"):
        manifest = extract((only_chr1, inputs[1]), tmp_path / "w")
    assert manifest["sequences"] == ["chr1"]
    assert manifest["motifs"]["skipped"] == 1


def test_out_dir_refused_unless_overwrite(inputs, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        extract(inputs, out)
    assert (out / "keep.txt").exists()
    extract_dataset(*inputs, out, ExtractOptions(window=W), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "test.npz",
        "train.npz",
        "val.npz",
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    empty = tmp_path / "empty"
    empty.mkdir()
    extract(inputs, empty)  # an existing empty directory is fine
    assert (empty / "manifest.json").exists()


def test_load_split_errors(dataset, tmp_path):
    out, _ = dataset
    with pytest.raises(InputError, match="64 nt, not the expected 128"):
        load_split(out, "train", window=128)
    with pytest.raises(ConfigError, match="split"):
        load_split(out, "dev")
    with pytest.raises(InputError, match="no such"):
        load_split(tmp_path / "nowhere", "train")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["version"] = 2
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="version 2"):
        read_manifest(out)
    manifest["version"], manifest["format"] = 1, "other"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="not a genatator-splice-data"):
        load_split(out, "train")
    manifest["format"], manifest["window"] = "genatator-splice-data", 32
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="do not match"):
        load_split(out, "train")
    (out / "val.npz").unlink()
    manifest["window"] = W
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"val\.npz"):
        load_split(out, "val")


def test_parse_split_and_options():
    assert parse_split("chr1:11-20, chr2") == [
        Region("chr1", 10, 20),
        Region("chr2", 0, WHOLE_SEQUENCE_END),
    ]
    for bad in ("", " , ", "chr1:5-2", "chr1:x-y", "chr1:10", "chr 1"):
        with pytest.raises(ConfigError, match="--test"):
            parse_split(bad, "--test")
    with pytest.raises(ConfigError, match="window"):
        ExtractOptions(window=8)
    with pytest.raises(ConfigError, match="margin"):
        ExtractOptions(margin=-1)
    with pytest.raises(ConfigError, match="decoy_ratio"):
        ExtractOptions(decoy_ratio=-0.5)
    with pytest.raises(ConfigError, match="max_n_fraction"):
        ExtractOptions(max_n_fraction=1.5)
    with pytest.raises(ConfigError, match="overlaps"):
        ExtractOptions(val=parse_split("chr1"), test=parse_split("chr1:5-10"))
    assert ExtractOptions(kinds="mRNA").kinds == ("mRNA",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ExtractOptions(val=parse_split("chr1:1-10"), test=parse_split("chr1:11-20"))
