"""benchmarks/gpu_burst.py: the burst trains and packs on the CPU too, and its parts join back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_synthetic_genome

from genatator.model.directory import load_model_directory

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_burst.py"


def burst(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True
    )


def test_parts_join_back_byte_for_byte_and_damage_is_caught(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    import gpu_burst

    model = tmp_path / "model"
    model.mkdir()
    big = bytes(range(256)) * (160 * 1024)  # 40 MiB: three parts
    (model / "weights.bin").write_bytes(big)
    (model / "config.json").write_text('{"a": 1}\n')
    out = tmp_path / "out"
    gpu_burst.pack(model, out)
    parts = sorted(p.name for p in out.iterdir())
    assert parts == ["burst_manifest.json", "burst_part_00", "burst_part_01", "burst_part_02"]
    assert all((out / p).stat().st_size <= 16 * 2**20 for p in parts)
    result = burst("join", out, "-o", tmp_path / "back")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "back" / "weights.bin").read_bytes() == big
    assert (tmp_path / "back" / "config.json").read_text() == '{"a": 1}\n'
    part = out / "burst_part_01"
    part.write_bytes(part.read_bytes()[:-1] + b"\0")
    result = burst("join", out, "-o", tmp_path / "again")
    assert result.returncode != 0 and "burst_part_01: checksum mismatch" in result.stderr
    assert not (tmp_path / "again").exists()


@pytest.mark.slow
def test_a_tiny_cpu_burst_trains_packs_and_joins_to_a_loadable_model(tmp_path):
    folder = tmp_path / "burst"
    folder.mkdir()
    genome, annotation = write_synthetic_genome(folder, {"chrA": 20_000}, genes_per_sequence=3)
    options = {
        "sources": [[Path(genome).name, Path(annotation).name]],
        "val_regions": "chrA:12001-16000",
        "preset": "tiny",
        "window": 600,
        "batch_size": 2,
    }
    (folder / "burst.json").write_text(json.dumps(options))
    out = tmp_path / "out"
    result = burst("run", folder, "--out", out, "--device", "cpu", "--max-steps", "3",
                   "--eval-every", "100", "--minutes", "5")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    files = list(out.iterdir())
    assert 2 <= len(files) <= 8 and all(f.stat().st_size <= 16 * 2**20 for f in files)
    assert burst("join", out, "-o", tmp_path / "model").returncode == 0
    model, _ = load_model_directory(tmp_path / "model")
    assert model.config.encoder.num_hidden_layers >= 1
    assert (tmp_path / "model" / "burst_metrics.jsonl").is_file()
    # A second burst continues from the first one's model, put in burst/init/.
    (tmp_path / "model").rename(folder / "init")
    result = burst("run", folder, "--out", tmp_path / "out2", "--device", "cpu",
                   "--max-steps", "2", "--eval-every", "100")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--model" in result.stdout.splitlines()[0]
