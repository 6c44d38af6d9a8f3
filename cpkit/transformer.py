"""The Multi-View Transformer (paper 4.3, A.7; MultiMAE-style).

Each view (frame) is cut into patches and becomes its own stream of
tokens: a per-view linear patch embedding (MultiMAE's "input adapters"),
a learned position embedding shared by the views, and a learned **view
embedding** that tells the encoder which frame a token came from. One
shared pre-norm transformer encoder reads both streams together; the
class comes from the mean of its output tokens (MultiMAE's fine-tuning
pooling). The pooled encoder output is also what the RSV is measured on.

One addition, stated in the book: every attention layer has a learned
**relative-position bias** per head (as in Swin or BEiT), with one table
for pairs of tokens of the same view and one for pairs across views. The
cross-view entry for "the same place" starts at ``cross_bias`` (3 in the
quick profile), so that each token at first attends to the same place in
the other frame. Without it the tiny CPU transformer stayed at chance on
motion for 40 epochs (a pilot, see the chapter); with it, motion is
learned in a few epochs. It is a starting point, trained like any weight,
and a deficit can train it away.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from cpkit.config import check_float, check_int
from cpkit.errors import ConfigError

HEADS = ("a", "b")


@dataclass(frozen=True)
class TransformerSpec:
    """Sizes of a Multi-View Transformer (defaults: the quick profile)."""

    image_size: int = 16
    channels: int = 1
    patch: int = 4
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    classes: int = 80
    cross_bias: float = 3.0  # initial same-place cross-view attention bias

    def __post_init__(self) -> None:
        for name in ("image_size", "channels", "patch", "dim", "depth"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("heads", self.heads, minimum=1)
        check_int("classes", self.classes, minimum=2)
        check_float("mlp_ratio", self.mlp_ratio, minimum=0.0, strict=True)
        check_float("cross_bias", self.cross_bias)
        if self.image_size % self.patch:
            raise ConfigError(
                f"patch = {self.patch} does not divide image_size = "
                f"{self.image_size}"
            )
        if self.dim % self.heads:
            raise ConfigError(
                f"heads = {self.heads} does not divide dim = {self.dim}"
            )

    @property
    def grid(self) -> int:
        return self.image_size // self.patch

    @property
    def tokens_per_view(self) -> int:
        return self.grid**2


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) images to (B, H/p * W/p, p * p * C) patch rows."""
    b, c, h, w = x.shape
    if h % patch or w % patch:
        raise ConfigError(f"patch {patch} does not divide {h} x {w} images")
    x = x.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, -1, patch * patch * c)


def unpatchify(
    tokens: torch.Tensor, patch: int, channels: int, grid: int
) -> torch.Tensor:
    """Inverse of :func:`patchify` for a ``grid`` x ``grid`` layout."""
    b = tokens.shape[0]
    x = tokens.reshape(b, grid, grid, patch, patch, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(
        b, channels, grid * patch, grid * patch
    )


def _relative_index(grid: int) -> torch.Tensor:
    """(2n, 2n) index into a bias table of 2 (2g-1)^2 entries.

    Entry (i, j) is the offset of token j from token i on the patch grid;
    pairs across views use the second half of the table.
    """
    rows, cols = torch.meshgrid(
        torch.arange(grid), torch.arange(grid), indexing="ij"
    )
    rc = torch.stack([rows.flatten(), cols.flatten()], 1)
    delta = rc[None, :, :] - rc[:, None, :] + grid - 1
    offset = delta[..., 0] * (2 * grid - 1) + delta[..., 1]
    per_view = (2 * grid - 1) ** 2
    top = torch.cat([offset, offset + per_view], 1)
    bottom = torch.cat([offset + per_view, offset], 1)
    return torch.cat([top, bottom], 0)


class Block(nn.Module):
    """Pre-norm attention (with relative-position bias) and MLP."""

    def __init__(self, spec: TransformerSpec) -> None:
        super().__init__()
        d, h = spec.dim, spec.heads
        self.heads = h
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        hidden = int(round(d * spec.mlp_ratio))
        self.mlp = nn.Sequential(
            nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d)
        )
        per_view = (2 * spec.grid - 1) ** 2
        table = torch.zeros(h, 2 * per_view)
        same_place = per_view + (spec.grid - 1) * (2 * spec.grid)
        table[:, same_place] = spec.cross_bias
        self.bias_table = nn.Parameter(table)
        self.register_buffer(
            "bias_index", _relative_index(spec.grid), persistent=False
        )

    def attention_bias(self, tokens: int) -> torch.Tensor:
        """(heads, tokens, tokens) bias over the 2n tokens of the views."""
        return self.bias_table[:, self.bias_index][:, :tokens, :tokens]

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        if bias is None:
            bias = self.attention_bias(t)
        if bias.dim() == 3:  # one bias for the batch; else one per sample
            bias = bias[None]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype)
        )
        x = x + self.proj(out.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


class MultiViewTransformer(nn.Module):
    """Two frames, two token streams, one encoder, one classifier."""

    def __init__(self, spec: TransformerSpec = TransformerSpec()) -> None:
        super().__init__()
        self.spec = spec
        n, d = spec.tokens_per_view, spec.dim
        width = spec.patch * spec.patch * spec.channels
        self.embed = nn.ModuleDict({v: nn.Linear(width, d) for v in HEADS})
        self.pos = nn.Parameter(torch.randn(1, n, d) * 0.02)
        self.view = nn.ParameterDict(
            {v: nn.Parameter(torch.randn(1, 1, d) * 0.02) for v in HEADS}
        )
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.depth))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, spec.classes)

    def tokens(self, x: torch.Tensor, view: str) -> torch.Tensor:
        """Embedded tokens of one view: patches + position + view."""
        if x.shape[1:] != (
            self.spec.channels,
            self.spec.image_size,
            self.spec.image_size,
        ):
            raise ConfigError(
                f"frames of shape {tuple(x.shape[1:])} do not fit this "
                f"transformer ({self.spec.channels} x {self.spec.image_size}"
                f" x {self.spec.image_size})"
            )
        patches = patchify(x, self.spec.patch)
        return self.embed[view](patches) + self.pos + self.view[view]

    def encode(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """Encoder output tokens (B, 2n, dim): view a's, then view b's."""
        x = torch.cat([self.tokens(x_a, "a"), self.tokens(x_b, "b")], 1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def units(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """Pooled encoder output (B, dim): the units whose RSV we measure."""
        return self.encode(x_a, x_b).mean(1)

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return self.head(self.units(x_a, x_b))
