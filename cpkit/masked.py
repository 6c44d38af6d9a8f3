"""Masked cross-view reconstruction (paper 4.4, Fig. 7; MultiMAE-style).

A fraction ``1 - mask_ratio`` of the tokens of both views is visible; how
the visible tokens are split between the two views is drawn per sample
from a Dirichlet(alpha) distribution, as MultiMAE does, so that some
samples show mostly one view and must rebuild the other from it. The
shared encoder of :class:`~cpkit.transformer.MultiViewTransformer` reads
the visible tokens only; a light decoder puts a learned mask token at
every hidden place and predicts the pixels of the hidden patches of both
views. The loss is the mean squared error on hidden patches only, each
patch normalised by its own mean and variance (MAE's normalised pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from cpkit.config import check_float, check_int
from cpkit.errors import ConfigError
from cpkit.transformer import (
    Block,
    MultiViewTransformer,
    TransformerSpec,
    patchify,
)


def visible_counts(
    batch: int,
    visible: int,
    per_view: int,
    alpha: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """(batch, 2) visible tokens per view, each row summing to ``visible``.

    The share of view a is drawn from Dirichlet(alpha, alpha) (a Beta);
    counts are rounded, then moved so that neither view shows more tokens
    than it has.
    """
    visible = check_int("visible tokens", visible, minimum=1)
    if visible > 2 * per_view:
        raise ConfigError(
            f"{visible} visible tokens exceed the {2 * per_view} of both views"
        )
    alpha = check_float("alpha", alpha, minimum=0.0, strict=True)
    # a two-way Dirichlet share is a Beta draw; numpy's, seeded from the
    # run's generator so that the masks follow the run's seed
    seed = int(torch.randint(2**62, (1,), generator=generator))
    share = np.random.default_rng(seed).beta(alpha, alpha, size=batch)
    a = torch.from_numpy(np.round(share * visible)).long()
    a = a.clamp(min=max(0, visible - per_view), max=min(per_view, visible))
    return torch.stack([a, visible - a], 1)


def sample_masks(
    batch: int,
    per_view: int,
    mask_ratio: float,
    alpha: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which tokens each sample shows: (keep index (B, k), hidden (B, 2n)).

    ``keep`` lists the visible tokens of both views (view a's indices
    0..n-1, view b's n..2n-1), k = round((1 - mask_ratio) * 2n) of them;
    ``hidden`` is True for every token the encoder does not see.
    """
    if not 0 <= check_float("mask_ratio", mask_ratio) < 1:
        raise ConfigError(f"mask_ratio = {mask_ratio:g} must be in [0, 1)")
    visible = max(1, round((1 - mask_ratio) * 2 * per_view))
    counts = visible_counts(batch, visible, per_view, alpha, generator)
    # a random order of each view's tokens; the first count of each stay
    noise = torch.rand(batch, 2, per_view, generator=generator)
    order = noise.argsort(-1)
    rank = torch.arange(per_view)[None, None, :]
    chosen = rank < counts[:, :, None]  # (B, 2, n) in the random order
    keep_mask = torch.zeros(batch, 2, per_view, dtype=torch.bool)
    keep_mask.scatter_(2, order, chosen)
    keep_mask = keep_mask.reshape(batch, 2 * per_view)
    # visible indices first, in token order (a stable sort on ~keep)
    keep = (~keep_mask).long().argsort(dim=1, stable=True)[:, :visible]
    return keep, ~keep_mask


def normalised_patches(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Patches of ``x`` with each patch's mean 0 and variance 1."""
    p = patchify(x, patch)
    mean = p.mean(-1, keepdim=True)
    var = p.var(-1, keepdim=True, unbiased=False)
    return (p - mean) / (var + 1e-6).sqrt()


def masked_loss(
    prediction: torch.Tensor, target: torch.Tensor, hidden: torch.Tensor
) -> torch.Tensor:
    """Mean squared error over the hidden patches only.

    ``prediction``, ``target``: (B, 2n, patch pixels); ``hidden``: (B, 2n)
    booleans. Visible patches do not count, whatever is predicted there.
    """
    per_patch = (prediction - target).pow(2).mean(-1)
    weight = hidden.float()
    return (per_patch * weight).sum() / weight.sum().clamp(min=1.0)


@dataclass(frozen=True)
class MaskedSpec:
    """Masking and decoder sizes (MultiMAE defaults, scaled down)."""

    mask_ratio: float = 0.75
    alpha: float = 1.0  # Dirichlet concentration of the view split
    decoder_dim: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4

    def __post_init__(self) -> None:
        if not 0 <= check_float("mask_ratio", self.mask_ratio) < 1:
            raise ConfigError(
                f"mask_ratio = {self.mask_ratio:g} must be in [0, 1)"
            )
        check_float("alpha", self.alpha, minimum=0.0, strict=True)
        check_int("decoder_dim", self.decoder_dim, minimum=1)
        check_int("decoder_depth", self.decoder_depth, minimum=1)
        check_int("decoder_heads", self.decoder_heads, minimum=1)
        if self.decoder_dim % self.decoder_heads:
            raise ConfigError(
                f"decoder_heads = {self.decoder_heads} does not divide "
                f"decoder_dim = {self.decoder_dim}"
            )


class MaskedCrossView(nn.Module):
    """A Multi-View Transformer encoder with a reconstruction decoder."""

    def __init__(
        self, spec: TransformerSpec, masked: MaskedSpec = MaskedSpec()
    ) -> None:
        super().__init__()
        self.masked = masked
        self.encoder = MultiViewTransformer(spec)
        n, d = spec.tokens_per_view, masked.decoder_dim
        self.to_decoder = nn.Linear(spec.dim, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.decoder_pos = nn.Parameter(torch.randn(1, 2 * n, d) * 0.02)
        decoder_spec = TransformerSpec(
            image_size=spec.image_size,
            channels=spec.channels,
            patch=spec.patch,
            dim=d,
            depth=masked.decoder_depth,
            heads=masked.decoder_heads,
            mlp_ratio=spec.mlp_ratio,
            classes=2,
            cross_bias=0.0,
        )
        self.decoder = nn.ModuleList(
            Block(decoder_spec) for _ in range(masked.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(d)
        self.to_pixels = nn.Linear(d, spec.patch * spec.patch * spec.channels)

    def encode_visible(
        self, x_a: torch.Tensor, x_b: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:
        """Encoder output (B, k, dim) of the kept tokens only."""
        enc = self.encoder
        tokens = torch.cat([enc.tokens(x_a, "a"), enc.tokens(x_b, "b")], 1)
        index = keep.to(tokens.device)
        x = torch.gather(
            tokens, 1, index[:, :, None].expand(-1, -1, tokens.shape[-1])
        )
        for block in enc.blocks:
            full = block.attention_bias(tokens.shape[1])  # (H, 2n, 2n)
            bias = full[:, index[:, :, None], index[:, None, :]]
            x = block(x, bias.permute(1, 0, 2, 3))
        return enc.norm(x)

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:
        """Predicted pixels of every patch of both views (B, 2n, p*p*c)."""
        latent = self.to_decoder(self.encode_visible(x_a, x_b, keep))
        b, k, d = latent.shape
        total = self.decoder_pos.shape[1]
        full = self.mask_token.expand(b, total, d).clone()
        index = keep.to(latent.device)[:, :, None].expand(-1, -1, d)
        full = full.scatter(1, index, latent) + self.decoder_pos
        for block in self.decoder:
            full = block(full)
        return self.to_pixels(self.decoder_norm(full))

    def loss(
        self,
        x_a: torch.Tensor,
        x_b: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """One masked cross-view reconstruction loss for a batch."""
        n = self.encoder.spec.tokens_per_view
        keep, hidden = sample_masks(
            x_a.shape[0],
            n,
            self.masked.mask_ratio,
            self.masked.alpha,
            generator,
        )
        patch = self.encoder.spec.patch
        target = torch.cat(
            [normalised_patches(x_a, patch), normalised_patches(x_b, patch)], 1
        )
        prediction = self(x_a, x_b, keep)
        return masked_loss(prediction.float(), target, hidden.to(x_a.device))


def load_encoder(
    model: MultiViewTransformer, pretrained: MaskedCrossView
) -> list[str]:
    """Copy every encoder weight into ``model``; return the names copied.

    The classifier head is the only part of ``model`` left as it was; a
    shape mismatch is a one-line error.
    """
    source = pretrained.encoder.state_dict()
    target = model.state_dict()
    copied = []
    for name, value in source.items():
        if name.startswith("head."):
            continue
        if name not in target or target[name].shape != value.shape:
            raise ConfigError(
                f"pre-trained weight {name} does not fit the model"
            )
        target[name] = value.clone()
        copied.append(name)
    model.load_state_dict(target)
    return copied
