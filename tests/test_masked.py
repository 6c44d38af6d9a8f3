"""Masked cross-view reconstruction: masks, loss, the decoder, and the
encoder handed over to fine-tuning."""

from __future__ import annotations

import pytest
import torch

from cpkit.errors import ConfigError
from cpkit.masked import (
    MaskedCrossView,
    MaskedSpec,
    load_encoder,
    masked_loss,
    normalised_patches,
    sample_masks,
    visible_counts,
)
from cpkit.transformer import MultiViewTransformer, TransformerSpec

SPEC = TransformerSpec(
    image_size=8, patch=2, dim=32, depth=1, heads=2, classes=10
)


def test_masks_keep_exactly_the_stated_number_of_tokens():
    gen = torch.Generator().manual_seed(0)
    keep, hidden = sample_masks(500, 16, 0.75, 1.0, gen)
    assert keep.shape == (500, 8)  # (1 - 0.75) * 32 visible
    assert torch.all((~hidden).sum(1) == 8)
    # keep lists exactly the visible tokens, without repeats
    for i in range(20):
        assert (
            sorted(keep[i].tolist())
            == torch.nonzero(~hidden[i]).ravel().tolist()
        )
    # the split between the views varies per sample, as Dirichlet(1)
    # draws: view a's share is uniform on 0..8 up to rounding
    in_a = (~hidden[:, :16]).sum(1)
    assert in_a.min() == 0 and in_a.max() == 8
    counts = torch.bincount(in_a, minlength=9).float()
    assert counts[1:8].min() > 0.5 * counts[1:8].mean()
    # both views take part: many samples show tokens of each
    assert ((in_a > 0) & (in_a < 8)).float().mean() > 0.8


def test_a_concentrated_dirichlet_splits_evenly():
    gen = torch.Generator().manual_seed(1)
    counts = visible_counts(1000, 10, 16, 1000.0, gen)
    assert torch.all(counts.sum(1) == 10)
    assert torch.all((counts[:, 0] - 5).abs() <= 1)
    with pytest.raises(ConfigError, match="exceed"):
        visible_counts(4, 40, 16, 1.0, gen)
    with pytest.raises(ConfigError, match="mask_ratio"):
        sample_masks(4, 16, 1.0, 1.0, gen)


def test_the_loss_counts_only_hidden_patches():
    target = torch.randn(2, 6, 4)
    hidden = torch.tensor([[1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0]]).bool()
    prediction = target.clone()
    prediction[~hidden] += 100.0  # wrong where visible: must not count
    assert masked_loss(prediction, target, hidden) == 0.0
    prediction = target.clone()
    prediction[hidden] += 2.0
    assert masked_loss(prediction, target, hidden) == pytest.approx(4.0)


def test_patches_are_normalised_each_on_its_own():
    x = torch.rand(3, 1, 8, 8) * 5 + 2
    p = normalised_patches(x, 2)
    assert p.shape == (3, 16, 4)
    assert torch.allclose(p.mean(-1), torch.zeros(3, 16), atol=1e-5)
    assert torch.allclose(
        p.var(-1, unbiased=False), torch.ones(3, 16), atol=1e-3
    )


def test_the_decoder_predicts_every_patch_from_the_visible_ones():
    torch.manual_seed(0)
    model = MaskedCrossView(SPEC, MaskedSpec(decoder_dim=16, decoder_heads=2))
    x_a, x_b = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    gen = torch.Generator().manual_seed(0)
    keep, hidden = sample_masks(4, 16, 0.75, 1.0, gen)
    out = model(x_a, x_b, keep)
    assert out.shape == (4, 32, 4)
    # hidden pixels cannot reach the encoder: changing them leaves the
    # encoder's output unchanged
    latent = model.encode_visible(x_a, x_b, keep)
    changed_b = x_b.clone()
    from cpkit.transformer import patchify, unpatchify

    patches = patchify(changed_b, 2)
    patches[hidden[:, 16:]] = 9.0
    changed_b = unpatchify(patches, 2, 1, 4)
    assert torch.allclose(model.encode_visible(x_a, changed_b, keep), latent)
    loss = model.loss(x_a, x_b, gen)
    loss.backward()
    assert (
        torch.isfinite(loss)
        and model.encoder.embed["a"].weight.grad is not None
    )


def test_it_learns_to_copy_an_identical_second_view():
    """Both views the same image of independent random pixels: a hidden
    patch can only be rebuilt from the same place of the other view. After
    training, it is where that place is visible, and only there."""
    torch.manual_seed(0)
    model = MaskedCrossView(SPEC, MaskedSpec(decoder_dim=32, decoder_heads=2))
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    images = torch.rand(256, 1, 8, 8)
    for _ in range(300):
        x = images[torch.randint(256, (64,), generator=gen)]
        loss = model.loss(x, x, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = images[:128]
    keep, hidden = sample_masks(128, 16, 0.75, 1.0, gen)
    with torch.no_grad():
        prediction = model(x, x, keep)
    target = torch.cat([normalised_patches(x, 2)] * 2, 1)
    other_visible = ~torch.cat([hidden[:, 16:], hidden[:, :16]], 1)
    copyable = masked_loss(prediction, target, hidden & other_visible)
    lost = masked_loss(prediction, target, hidden & ~other_visible)
    assert copyable < 0.25  # a normalised patch has variance 1
    assert lost > 0.8


def test_fine_tuning_loads_every_encoder_weight():
    torch.manual_seed(0)
    pretrained = MaskedCrossView(SPEC)
    torch.manual_seed(1)
    model = MultiViewTransformer(SPEC)
    head_before = model.head.weight.clone()
    copied = load_encoder(model, pretrained)
    source = pretrained.encoder.state_dict()
    expected = sorted(k for k in source if not k.startswith("head."))
    assert sorted(copied) == expected
    for name in expected:
        assert torch.equal(model.state_dict()[name], source[name])
    assert torch.equal(model.head.weight, head_before)
    wider = MultiViewTransformer(
        TransformerSpec(image_size=8, patch=2, dim=48, depth=1, heads=2)
    )
    with pytest.raises(ConfigError, match="does not fit"):
        load_encoder(wider, pretrained)
