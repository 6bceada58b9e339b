"""Shard plans (`--balance length`, `genatator shard-plan`) and merging balanced shards, FASTA
included, back into the bytes of one unsharded run."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import assert_one_line_error, assert_valid_gff3, random_dna, run_cli

from genatator.cli import main
from genatator.errors import ConfigError, InputError
from genatator.partial import PARTIAL_SUFFIX
from genatator.regions import Region
from genatator.shards import (
    ShardPlan,
    ShardSelector,
    assign_shards,
    genome_lengths,
    plan_genome,
    plan_lengths,
)

# One record longer than all the others together, and contigs of several sizes.
LENGTHS = {"big": 12_000, **{f"ctg{i}": 1000 + 500 * i for i in range(1, 7)}}
FAST = ["--window", "2000", "--batch-size", "4", "--threads", "1", "--min-cds-codons", "10"]


def write_genome(path, lengths: dict[str, int]) -> None:
    with path.open("w") as handle:
        for index, (name, length) in enumerate(lengths.items()):
            sequence = random_dna(length, seed=200 + index)
            handle.write(f">{name}\n")
            handle.writelines(sequence[i : i + 60] + "\n" for i in range(0, length, 60))


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    path = tmp_path_factory.mktemp("shards") / "genome.fa"
    write_genome(path, LENGTHS)
    return path


# -- plans -------------------------------------------------------------------------------------


def test_count_balance_is_round_robin():
    assert assign_shards([5, 1, 1, 1, 9], 2, "count") == [1, 2, 1, 2, 1]


def test_length_balance_puts_the_longest_first_on_the_lightest_shard():
    # 10 goes to shard 1; 6 and 5 to shards 2 and 3; 4 joins the lightest (5), 3 then 6, ...
    assert assign_shards([3, 10, 4, 6, 5], 3, "length") == [2, 1, 3, 2, 3]


def test_one_huge_record_and_many_small_ones():
    rng = np.random.default_rng(0)
    weights = [250_000_000, *rng.integers(1_000, 100_000, size=10_000).tolist()]
    names = [f"s{i}" for i in range(len(weights))]
    # Fewer shards than the genome's mean allows: the huge record shares its shard, all even.
    assert ShardPlan.build(names, weights, 2, "length").imbalance < 1.001
    for count in (4, 8, 16):
        # More: the huge record bounds the largest shard; it sits alone, the rest spread evenly.
        plan = ShardPlan.build(names, weights, count, "length")
        totals = plan.totals()
        assert plan.members(plan.shards[0]) == [0]
        assert max(totals) == weights[0] and plan.imbalance == plan.floor
        rest = [total for shard, total in enumerate(totals, 1) if shard != plan.shards[0]]
        assert max(rest) - min(rest) <= 100_000  # within one contig of each other
    many = ShardPlan.build([str(i) for i in range(1, 10_001)], weights[1:], 16, "length")
    assert many.imbalance < 1.001  # 10,000 small contigs spread evenly
    count_plan = ShardPlan.build([str(i) for i in range(1, 10_001)], weights[1:], 16, "count")
    assert count_plan.imbalance > many.imbalance


def test_length_balance_never_exceeds_the_list_scheduling_bound():
    rng = np.random.default_rng(1)
    for _ in range(200):
        weights = rng.integers(0, 1000, size=int(rng.integers(1, 40))).tolist()
        count = int(rng.integers(1, 9))
        shards = assign_shards(weights, count, "length")
        totals = [sum(w for w, s in zip(weights, shards) if s == k) for k in range(1, count + 1)]
        assert sorted(set(shards)) <= list(range(1, count + 1))
        assert max(totals) <= sum(weights) / count + max(weights)
        assert assign_shards(weights, count, "length") == shards  # deterministic


def test_bad_plan_arguments():
    with pytest.raises(ConfigError, match="--shards"):
        assign_shards([1], 0, "length")
    with pytest.raises(ConfigError, match="--balance"):
        assign_shards([1], 2, "size")


def test_regions_weigh_only_their_bases():
    regions = {"b": [Region("b", 0, 100), Region("b", 900, 5000)]}
    plan = plan_lengths([("a", 800), ("b", 1000), ("c", 50)], 2, "length", regions)
    assert plan.weights == (0, 200, 0)


def test_tables_and_summary(genome):
    plan = plan_genome(str(genome), 3, "length")
    assert plan.totals() == [12_000, 8_500, 8_000]
    assert plan.shard_table().splitlines() == [
        "#shard\tsequences\tbases\tof_mean",
        "1\t1\t12000\t1.263",
        "2\t3\t8500\t0.895",
        "3\t3\t8000\t0.842",
    ]
    rows = plan.sequence_table().splitlines()
    assert rows[0] == "#sequence\tbases\tshard" and rows[1] == "big\t12000\t1"
    assert "1.263 × the mean" in plan.summary() and "big" in plan.summary()


def test_lengths_come_from_a_fresh_fai_and_a_stale_one_is_caught(tmp_path):
    path = tmp_path / "g.fa"
    write_genome(path, {"x": 300, "y": 200})
    assert genome_lengths(str(path)) == [("x", 300), ("y", 200)]
    index = tmp_path / "g.fa.fai"
    index.write_text("x\t300\t3\t60\t61\ny\t999\t400\t60\t61\n")
    assert genome_lengths(str(path)) == [("x", 300), ("y", 999)]  # trusted while fresh
    selector = ShardSelector(str(path), (1, 2), "length")
    assert selector.position(0, "x", 300) is None  # y (999 bp, by the index) is shard 1's
    with pytest.raises(InputError, match="stale"):
        selector.position(1, "y", 200)
    old = path.stat().st_mtime_ns - 10**9
    os.utime(index, ns=(old, old))  # older than the genome: read the FASTA instead
    assert genome_lengths(str(path)) == [("x", 300), ("y", 200)]


def test_selector_round_robin_and_length_positions(genome):
    count = ShardSelector(str(genome), (2, 3), "count")
    assert [count.position(i, "?", 0) for i in range(7)] == [None, 0, None, None, 1, None, None]
    length = ShardSelector(str(genome), (2, 3), "length")
    taken = [length.position(i, n, n_bp) for i, (n, n_bp) in enumerate(LENGTHS.items())]
    assert taken == [None, None, 0, 1, None, None, 2]  # ctg2, ctg3, ctg6
    with pytest.raises(InputError, match="5 records, not 7"):
        length.check_complete(5)


def test_balance_length_on_stdin_is_refused():
    with pytest.raises(ConfigError, match="'-'"):
        ShardSelector("-", (1, 2), "length")


# -- annotate --balance length, merge -----------------------------------------------------------


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory, genome, tiny_random_model):
    directory = tmp_path_factory.mktemp("unsharded")
    args = [genome, "-m", tiny_random_model, *FAST, "-o", directory / "genes.gff3"]
    args += ["--proteins", directory / "p.faa", "--cds-fasta", directory / "c.fna"]
    assert main(["-q", "annotate", *map(str, args)]) == 0
    return directory


def test_length_balanced_shards_merge_to_the_unsharded_bytes(
    tmp_path, capsys, genome, unsharded, tiny_random_model, gt_binary
):
    stems = []
    for index in (1, 2, 3):
        stem = tmp_path / f"shard{index}"
        args = [genome, "-m", tiny_random_model, *FAST, "-o", f"{stem}.gff3"]
        args += ["--proteins", f"{stem}.faa", "--cds-fasta", f"{stem}.fna"]
        args += ["--shard", f"{index}/3", "--balance", "length"]
        code, _, err = run_cli(capsys, "annotate", *args)
        assert code == 0, err
        assert f"shard {index}/3:" in err
        assert_valid_gff3(gt_binary, f"{stem}.gff3")
        stems.append(stem)
    merged = tmp_path / "merged.gff3"
    # Any file order: every shard lists every sequence, and FASTA follows the merged GFF3.
    code, _, err = run_cli(capsys, "merge", *(f"{s}.gff3" for s in stems[::-1]), "-o", merged)
    assert code == 0, err
    assert_valid_gff3(gt_binary, merged)
    assert merged.read_bytes() == (unsharded / "genes.gff3").read_bytes()
    for suffix, name in (("faa", "p.faa"), ("fna", "c.fna")):
        out = tmp_path / f"merged.{suffix}"
        parts = [f"{s}.{suffix}" for s in (stems[1], stems[0], stems[2])]
        code, _, err = run_cli(capsys, "merge", "--fasta-order", merged, *parts, "-o", out)
        assert code == 0, err
        assert out.read_bytes() == (unsharded / name).read_bytes(), name
    assert not list(tmp_path.glob(f"*{PARTIAL_SUFFIX}"))


def test_shard_plan_command(capsys, genome, tmp_path):
    code, out, err = run_cli(capsys, "shard-plan", genome, "-n", "3", "--balance", "length")
    assert code == 0, err
    assert out.splitlines()[1] == "1\t1\t12000\t1.263"
    assert "largest 12,000 bp = 1.263 × the mean" in err
    target = tmp_path / "plan.tsv"
    code, _, err = run_cli(capsys, "shard-plan", genome, "-n", "2", "--sequences", "-o", target)
    assert code == 0, err
    assert target.read_text().splitlines()[1:3] == ["big\t12000\t1", "ctg1\t1500\t2"]
    code, out, _ = run_cli(capsys, "shard-plan", genome, "-n", "2", "--regions", "ctg3:1-100")
    assert code == 0 and "\t100\t" in out


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["shard-plan", "{genome}", "-n", "0"], ["--shards"]),
        (["shard-plan", "{genome}"], ["--shards"]),
        (["shard-plan", "{genome}", "-n", "2", "--balance", "size"], ["--balance"]),
        (["shard-plan", "{tmp}/missing.fa", "-n", "2"], ["missing.fa"]),
        (["shard-plan", "{genome}", "-n", "2", "--regions", "chrZ:1-10"], ["chrZ"]),
        (["shard-plan", "{genome}", "-n", "2", "-o", "{tmp}/no/such/dir/plan.tsv"], ["no/such"]),
        (["annotate", "{genome}", "--balance", "length", "-o", "{tmp}/o.gff3"], ["--balance"]),
        (["annotate", "-", "--shard", "1/2", "--balance", "length"], ["'-'", "twice"]),
        (["annotate", "{genome}", "--shard", "1/2", "--balance", "bytes"], ["--balance"]),
        (["merge", "--fasta-order", "{tmp}/missing.gff3", "{tmp}/p.faa"], ["missing.gff3"]),
        (["merge", "--fasta-order", "{order}", "{tmp}/bad.faa"], ["bad.faa", "header"]),
        (["merge", "--fasta-order", "{order}", "{tmp}/other.faa"], ["other.faa", "chrQ"]),
        (["merge", "--fasta-order", "{order}", "{tmp}/p.faa", "{tmp}/p.faa"], ["not shards"]),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, genome, unsharded, args, names):
    (tmp_path / "bad.faa").write_text(">x no location\nMKV\n")
    (tmp_path / "other.faa").write_text(">t1 gene=g1 chrQ:1-30(+)\nMKV\n")
    (tmp_path / "p.faa").write_text(">big.g1.t1 gene=big.g1 big:1-30(+)\nMKV\n")
    values = {"genome": genome, "tmp": tmp_path, "order": unsharded / "genes.gff3"}
    code, _, err = run_cli(capsys, *(a.format(**values) for a in args))
    assert code == 2, err
    assert_one_line_error(err, *names)
    assert not (tmp_path / "o.gff3").exists()
