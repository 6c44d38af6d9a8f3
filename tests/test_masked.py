"""Masked cross-view reconstruction: masks, loss, the decoder, and the
encoder handed over to fine-tuning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cpkit.clips import ClipSpec, sprite_clips
from cpkit.deficits import DeficitWindow
from cpkit.errors import ConfigError
from cpkit.masked import (
    MaskedCrossView,
    MaskedSpec,
    finetune,
    load_encoder,
    masked_loss,
    masked_sweep,
    normalised_patches,
    pretrain,
    reconstruction_loss,
    reconstructions,
    sample_masks,
    visible_counts,
)
from cpkit.profiles import get_profile
from cpkit.transformer import MultiViewTransformer, TransformerSpec, patchify
from cpkit.video import VideoTrainConfig, train_clips

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


# --- pre-training with a window, fine-tuning, the sweep ---------------------

SMALL = ClipSpec("digits", sprite=8, canvas=8, shift=1, test_images=300)


@pytest.fixture(scope="module")
def small():
    return sprite_clips(SMALL)


def tiny_spec(data):
    return TransformerSpec(
        image_size=data.spec.canvas,
        patch=2,
        dim=16,
        depth=1,
        heads=2,
        classes=data.classes,
    )


def tiny_pretrainer(data, seed=0):
    torch.manual_seed(seed)
    return MaskedCrossView(
        tiny_spec(data), MaskedSpec(decoder_dim=16, decoder_heads=2)
    )


def tiny_classifier(data, seed=0):
    torch.manual_seed(seed)
    return MultiViewTransformer(tiny_spec(data))


def test_pre_training_sees_the_same_clips_and_masks_outside_its_window(
    small, monkeypatch
):
    """What the loss is given, batch by batch, with and without a window:
    the same frame a and masks always, frame b changed only in the
    window."""
    seen: list[list[tuple[float, float, int]]] = []
    real = MaskedCrossView.loss

    def recording(self, x_a, x_b, generator):
        state = generator.get_state()
        masks = sample_masks(len(x_a), 16, 0.75, 1.0, generator)[0]
        generator.set_state(state)
        order = torch.arange(1, len(x_a) + 1, dtype=torch.float64)
        seen[-1].append(
            (
                float(x_a.flatten(1).sum(1).double() @ order),
                float(x_b.flatten(1).sum(1).double() @ order),
                hash(masks.numpy().tobytes()),
            )
        )
        return real(self, x_a, x_b, generator)

    monkeypatch.setattr(MaskedCrossView, "loss", recording)
    config = VideoTrainConfig(epochs=3, batch_size=500, last_n=1)
    logs = []
    for window in (None, DeficitWindow("dissociation", 1, 1, 3)):
        seen.append([])
        log, _ = pretrain(tiny_pretrainer(small), small, config, 4, window)
        logs.append(log)
    # training batches only (each epoch ends with the test batches)
    steps = -(-len(small.x_train) // 500)
    tests = -(-len(small.test[2]) // 500)
    per_epoch = steps + tests
    for epoch in range(3):
        run = slice(epoch * per_epoch, epoch * per_epoch + steps)
        without, with_window = seen[0][run], seen[1][run]
        assert [s[0] for s in without] == [s[0] for s in with_window]
        assert [s[2] for s in without] == [s[2] for s in with_window]
        same_b = [s[1] for s in without] == [s[1] for s in with_window]
        assert same_b == (epoch != 1)
    assert logs[1].deficit == [False, True, False]
    assert logs[0].train_loss[0] == logs[1].train_loss[0]
    assert logs[0].train_loss[1] != logs[1].train_loss[1]


def test_the_masked_sweep_branches_equal_runs_trained_from_scratch(small):
    """A window branch resumes the base pre-training at its onset; its
    fine-tuned result must be exactly that of a pre-training that had the
    window from the start, fine-tuned the same way."""
    pre_config = VideoTrainConfig(epochs=4, batch_size=250, last_n=1)
    fine_config = VideoTrainConfig(epochs=2, batch_size=250, last_n=1)
    window = DeficitWindow("dissociation", 2, 1, 4)
    pre = tiny_pretrainer(small, seed=3)
    pre_log, _ = pretrain(pre, small, pre_config, 3, window)
    _, fine_log = finetune(
        pre, lambda s: tiny_classifier(small, s), small, fine_config, 3
    )
    result = masked_sweep(
        lambda s: tiny_pretrainer(small, s),
        lambda s: tiny_classifier(small, s),
        small,
        pre_config,
        fine_config,
        3,
        "dissociation",
        [2],
        1,
        rsv_clips=4,
        recon_clips=2,
    )
    branch = result["windows"][0]
    assert branch["pretrain_log"]["train_loss"] == pre_log.train_loss
    assert branch["log"]["test_acc"] == fine_log.test_acc
    base = result["base"]
    assert base["pretrain_log"]["train_loss"][:2] == pre_log.train_loss[:2]
    assert base["pretrain_log"]["train_loss"][2] != pre_log.train_loss[2]
    assert branch["drop"] == pytest.approx(base["acc"] - branch["acc"])
    assert branch["drop_direction"] == pytest.approx(
        base["direction"] - branch["direction"]
    )
    # the control: the same fine-tuning from a random encoder
    scratch, _ = train_clips(tiny_classifier(small, 3), small, fine_config, 3)
    assert result["scratch"]["log"]["test_acc"] == scratch.test_acc
    assert base["rsv_before"].shape == base["rsv"].shape == (4, 16)


def test_reconstructions_paste_visible_patches_and_tint_hidden_ones(small):
    model = tiny_pretrainer(small)
    recon = reconstructions(model, small, clips=3, seed=1)
    assert set(recon) == {"masked", "predicted", "original"}
    for images in recon.values():
        assert images.shape == (3, 2, 3, 8, 8)
    original = recon["original"]
    assert torch.equal(original[:, 0, :1], small.test[0][:3].clamp(0, 1))
    assert torch.equal(original[:, 1, :1], small.test[1][:3].clamp(0, 1))
    # the masks of that seed: visible patches are the original's, in the
    # prediction and in the masked input; hidden ones carry the tint
    gen = torch.Generator().manual_seed(1)
    _, hidden = sample_masks(3, 16, 0.75, 1.0, gen)
    for clip in range(3):
        for view in range(2):
            for token in range(16):
                row, col = divmod(token, 4)
                cell = (slice(None), slice(2 * row, 2 * row + 2))
                cell = (*cell, slice(2 * col, 2 * col + 2))
                truth = original[clip, view][cell]
                masked = recon["masked"][clip, view][cell]
                predicted = recon["predicted"][clip, view][cell]
                if hidden[clip, view * 16 + token]:
                    assert torch.allclose(
                        masked[:, 0, 0], torch.tensor([0.20, 0.25, 0.45])
                    )
                else:
                    assert torch.equal(masked, truth)
                    assert torch.allclose(predicted, truth, atol=1e-6)


def test_the_zero_loss_is_the_share_of_hidden_patches_with_ink(small):
    """Predicting 0 (a normalised patch's mean) costs about 1 on every
    hidden patch that is not flat and 0 on a flat one."""
    model = tiny_pretrainer(small)
    zero = reconstruction_loss(model, small, zero=True)
    gen = torch.Generator().manual_seed(0)  # the masks it used
    _, hidden = sample_masks(len(small.test[2]), 16, 0.75, 1.0, gen)
    patches = torch.cat(
        [patchify(small.test[0], 2), patchify(small.test[1], 2)], 1
    )
    var = patches.var(-1, unbiased=False)
    # each normalised patch's mean square: var / (var + eps), 1 with ink
    expected = (var / (var + 1e-6))[hidden].mean()
    assert 0.1 < zero < 0.99
    assert zero == pytest.approx(float(expected), abs=0.01)


def test_masked_profile_and_its_full_model_on_cpu():
    quick = get_profile("masked", "quick")
    assert quick.onset_epochs() == [0, 3, 6, 9]
    assert quick.window_length / quick.pretrain_epochs == 0.25
    full = get_profile("masked", "full")
    assert full.onset_epochs() == [0, 100, 200, 350, 500, 600]
    assert full.pretrain_epochs == 800 and full.finetune_epochs == 20
    for bad, message in (
        ({"window_length": 12}, "must be shorter"),
        ({"mask_ratio": 1.0}, "mask_ratio"),
        ({"window_onsets": (0.5, 2.0)}, "must lie in"),
        ({"norm_pixels": "yes"}, "True or False"),
        ({"decoder_heads": 5}, "does not divide"),
        ({"finetune_epochs": 2}, "last_n = 3 exceeds"),
    ):
        with pytest.raises(ConfigError, match=message):
            get_profile("masked", "quick", **bad)
    video = get_profile("video", "full")
    data = sprite_clips(
        dataclasses.replace(video.clip_spec(), test_images=4, train_images=8)
    )
    torch.manual_seed(0)
    model = MaskedCrossView(
        video.transformer_spec(data.classes), full.masked_spec()
    )
    config = dataclasses.replace(
        full.pretrain_config(), epochs=2, warmup_epochs=1
    )
    log, _ = pretrain(model, data, config, 0)
    assert len(log.test_loss) == 2 and np.isfinite(log.train_loss).all()
