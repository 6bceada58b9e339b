"""U-Net head: shapes on odd lengths, chunking, and skip-connection structure."""

from __future__ import annotations

import pytest
import torch

from genatator.model import UNet1D
from genatator.model.unet import run_chunked


@pytest.mark.parametrize("length", [1, 2, 3, 7, 8, 9, 15, 16, 17, 101])
def test_output_keeps_channels_and_length_for_any_length(length):
    torch.manual_seed(0)
    unet = UNet1D(6, (4, 8, 16))
    out = unet(torch.randn(2, 6, length))
    assert out.shape == (2, 6, length)
    assert torch.isfinite(out).all()


def test_checkpoint_key_layout_matches_genatator():
    keys = set(UNet1D(8, (4, 8, 16)).state_dict())
    for i in range(3):
        assert f"downsample_blocks.{i}.conv_layers.0.weight" in keys
        assert f"downsample_blocks.{i}.conv_layers.1.bias" in keys
        assert f"upsample_blocks.{i}.up.weight" in keys
        assert f"upsample_blocks.{i}.conv_layers.1.weight" in keys
    assert "final_block.conv_layers.1.weight" in keys
    shapes = {k: tuple(v.shape) for k, v in UNet1D(8, (4, 8, 16)).state_dict().items()}
    assert shapes["upsample_blocks.0.up.weight"] == (16, 16, 2)  # ConvTranspose: (in, out, k)
    assert shapes["upsample_blocks.1.up.weight"] == (16, 8, 2)
    assert shapes["upsample_blocks.2.up.weight"] == (8, 4, 2)
    assert shapes["upsample_blocks.0.conv_layers.0.weight"] == (16, 32, 3)  # skip 16 + up 16
    assert shapes["final_block.conv_layers.1.weight"] == (8, 8, 3)


def test_chunked_run_equals_independent_calls_per_chunk():
    torch.manual_seed(1)
    unet = UNet1D(3, (4, 8, 16)).eval()
    sequences = [torch.randn(23, 3), torch.randn(10, 3), torch.randn(5, 3)]
    with torch.no_grad():
        chunked = run_chunked(unet, sequences, chunk_size=10)
        for seq, out in zip(sequences, chunked):
            expected = torch.cat(
                [unet(seq[i : i + 10].T[None])[0].T for i in range(0, len(seq), 10)]
            )
            torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("output_block", ["wide", "narrow"])
def test_receptive_field_is_local_and_bounded_by_chunks(output_block):
    torch.manual_seed(2)
    unet = UNet1D(2, (4, 8, 16), output_block=output_block).eval()
    x = torch.randn(64, 2)
    y = x.clone()
    y[5] += 10.0
    with torch.no_grad():
        a, b = run_chunked(unet, [x, y], chunk_size=32)
    changed = (a - b).abs().sum(dim=1) > 0
    assert changed[5]
    assert not changed[32:].any()  # no context crosses a chunk border


def test_narrow_output_block_keeps_shape_and_has_the_narrow_layout():
    torch.manual_seed(3)
    unet = UNet1D(8, (4, 8, 16), output_block="narrow")
    out = unet(torch.randn(2, 8, 37))
    assert out.shape == (2, 8, 37) and torch.isfinite(out).all()
    shapes = {k: tuple(v.shape) for k, v in unet.state_dict().items()}
    # Full-resolution convolutions stay at c1 = 4 channels; a pointwise layer widens to 8.
    assert shapes["final_block.conv_layers.0.weight"] == (4, 4, 3)
    assert shapes["final_block.conv_layers.1.weight"] == (4, 4, 3)
    assert shapes["projection.weight"] == (8, 4, 1)
    assert "projection.weight" not in UNet1D(8, (4, 8, 16)).state_dict()

    # The wide block has 8·4·3 + 8·8·3 weights at full resolution, the narrow one 2·4·4·3 + 8·4.
    def full_resolution_weights(module: UNet1D) -> int:
        return sum(
            v.numel()
            for k, v in module.state_dict().items()
            if k.startswith(("final_block", "projection")) and k.endswith("weight")
        )

    wide_count, narrow_count = (
        full_resolution_weights(UNet1D(8, (4, 8, 16))),
        full_resolution_weights(unet),
    )
    assert (wide_count, narrow_count) == (8 * 4 * 3 + 8 * 8 * 3, 2 * 4 * 4 * 3 + 8 * 4)
