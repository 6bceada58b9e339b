"""Test helpers shared by several test modules (data builders, not fixtures)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import torch
from safetensors.torch import save_file

from genatator.cli import main
from genatator.model import GenaEncoder


def assert_valid_gff3(gt: str, path, context: str = "") -> None:
    """Fail unless ``gt gff3validator -typecheck so`` accepts ``path``."""
    result = subprocess.run(
        [gt, "gff3validator", "-typecheck", "so", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + context


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``genatator ARGS`` in-process: exit code, stdout and stderr."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    """stderr holds exactly one ``genatator: error:`` line, naming each fragment, no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("genatator: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def random_dna(length: int, seed: int) -> str:
    """Deterministic uniform ACGT sequence."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), size=length))


def write_fake_gena_checkpoint(
    directory, encoder: GenaEncoder, *, fmt: str, explicit_lastln: bool, extra: dict | None = None
):
    """A checkpoint folder shaped like GENA-LM's hub repos, built from our own random encoder."""
    directory.mkdir(parents=True, exist_ok=True)
    cfg = encoder.config
    hf = {
        "model_type": "bert",
        "architectures": ["BertForMaskedLM"],
        "auto_map": {"AutoModel": "modeling_bert.BertForMaskedLM"},
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 3,
        "pre_layer_norm": True,
        "hidden_act": "gelu",
    }
    if explicit_lastln:
        hf["last_layer_norm"] = cfg.last_layer_norm
    (directory / "config.json").write_text(json.dumps(hf))
    state = {f"bert.{k}": v.clone() for k, v in encoder.state_dict().items()}
    state["bert.embeddings.position_ids"] = torch.arange(cfg.max_position_embeddings)[None]
    state["cls.predictions.bias"] = torch.zeros(cfg.vocab_size)
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    state.update(extra or {})
    if fmt == "bin":
        torch.save(state, directory / "pytorch_model.bin")
    else:
        save_file(
            {k: v.contiguous().clone() for k, v in state.items()},
            str(directory / "model.safetensors"),
        )


def synthetic_genes(lengths: dict[str, int], *, genes_per_sequence: int, seed: int) -> list:
    """Non-overlapping two- or three-exon coding genes on both strands, spread evenly."""
    from genatator.annotation import Gene, Transcript

    rng = np.random.default_rng(seed)
    genes = []
    for seqid, length in lengths.items():
        slot = length // genes_per_sequence
        for g in range(genes_per_sequence):
            start = g * slot + int(rng.integers(100, slot // 4))
            cursor, exons = start, []
            for _ in range(int(rng.integers(2, 4))):
                size = int(rng.integers(150, 400))
                exons.append((cursor, cursor + size))
                cursor += size + int(rng.integers(80, 300))
            strand = "+" if g % 2 == 0 else "-"
            cds_lo, cds_hi = exons[0][0] + 40, exons[-1][1] - 60
            cds = [(max(a, cds_lo), min(b, cds_hi)) for a, b in exons if b > cds_lo and a < cds_hi]
            tid = f"{seqid}.t{g}"
            transcript = Transcript(tid, seqid, strand, exons, cds, gene_id=f"{seqid}.g{g}")
            genes.append(Gene(f"{seqid}.g{g}", seqid, strand, [transcript]))
    return genes


def write_synthetic_genome(directory, lengths: dict[str, int], *, genes_per_sequence=3, seed=0):
    """A random-DNA FASTA with a GFF3 of synthetic genes; returns (fasta path, gff3 path)."""
    from genatator.annotation import save_gff3

    directory.mkdir(parents=True, exist_ok=True)
    fasta, gff = directory / "genome.fa", directory / "genes.gff3"
    with fasta.open("w") as handle:
        for index, (seqid, length) in enumerate(lengths.items()):
            sequence = random_dna(length, seed=seed * 1000 + index)
            handle.write(f">{seqid}\n")
            handle.writelines(sequence[i : i + 80] + "\n" for i in range(0, length, 80))
    genes = synthetic_genes(lengths, genes_per_sequence=genes_per_sequence, seed=seed)
    save_gff3(genes, gff, sequence_lengths=lengths)
    return fasta, gff


def write_gena_dir_from_golden(directory, golden_path, tokenizer, *, tag: str = "lastln"):
    """A GENA-LM-style checkpoint directory holding the golden fixture's tiny encoder."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(golden_path))
    with safe_open(str(golden_path), "pt") as handle:
        config = json.loads(handle.metadata()["configs"])[tag]
    prefix = f"{tag}.weights."
    state = {f"bert.{k[len(prefix) :]}": v for k, v in tensors.items() if k.startswith(prefix)}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"model_type": "bert", **config}))
    torch.save(state, directory / "pytorch_model.bin")
    tokenizer.save_pretrained(directory)
    return {k[len("bert.") :]: v for k, v in state.items()}


def value_and_grads(fn, inputs, grad_y, dtype) -> list[torch.Tensor]:
    """``fn(*inputs)`` and its gradients w.r.t. every input, computed in ``dtype``, as float64."""
    leaves = [t.to(dtype).requires_grad_() for t in inputs]
    y = fn(*leaves)
    grads = torch.autograd.grad(y, leaves, grad_y.to(y.dtype))
    return [t.double() for t in (y, *grads)]


def relative_errors(got, expected) -> list[float]:
    """Max absolute difference over max absolute reference value, per tensor."""
    return [
        float((a.detach() - b.detach()).abs().max() / b.detach().abs().max().clamp(min=1e-30))
        for a, b in zip(got, expected)
    ]
