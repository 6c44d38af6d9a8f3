"""Two sensors from one image, batched on the device (paper 2.1).

Each pathway sees the full frame with the other side zeroed: view a keeps
the ``view_size`` leftmost columns, view b the ``view_size`` rightmost.
Zero is taken after normalisation, so it is the data set's mean colour,
as in the paper. Augmentation (pad, random crop, flip) is shared by both
views and runs on whole batches as tensors.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cpkit.config import check_float, check_int
from cpkit.errors import ConfigError


def to_tensor(
    images: np.ndarray, mean: np.ndarray | None = None, std=None
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """uint8 (N, H, W) or (N, H, W, C) → normalised float (N, C, H, W).

    Returns the tensor and the per-channel mean and std used (computed
    from ``images`` unless given), so that the test set can reuse them.
    """
    x = np.asarray(images)
    if x.dtype != np.uint8 or x.ndim not in (3, 4):
        raise ConfigError(
            f"images must be uint8 (N, H, W) or (N, H, W, C), got "
            f"{x.dtype} {x.shape}"
        )
    if x.ndim == 3:
        x = x[..., None]
    x = x.astype(np.float32) / 255.0
    if mean is None:
        mean = x.mean(axis=(0, 1, 2))
        std = x.std(axis=(0, 1, 2))
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    x = (x - mean) / std
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), mean, std


def split_views(
    x: torch.Tensor, view_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(view a, view b) of x: (batch, channels, height, width).

    View a keeps columns [0, view_size), view b keeps
    [width - view_size, width); everything else is 0 (the mean colour).
    """
    width = x.shape[-1]
    view_size = check_int("view_size", view_size, minimum=1)
    if view_size > width:
        raise ConfigError(
            f"view_size = {view_size} is wider than the images ({width})"
        )
    cols = torch.arange(width, device=x.device)
    keep_a = (cols < view_size).to(x.dtype)
    keep_b = (cols >= width - view_size).to(x.dtype)
    return x * keep_a, x * keep_b


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    pad: int = 4,
    flip: bool = True,
) -> torch.Tensor:
    """Pad with the mean colour, crop back at random, flip half (batched).

    One random crop offset and flip per image, drawn from ``generator``
    (on the CPU, so results do not depend on the device).
    """
    pad = check_int("pad", pad, minimum=0)
    n, _, h, w = x.shape
    if pad:
        x = F.pad(x, (pad, pad, pad, pad), value=0.0)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)

    # gather each image's crop through index arithmetic
    rows = (dy[:, None] + torch.arange(h)[None, :]).to(x.device)
    cols = (dx[:, None] + torch.arange(w)[None, :]).to(x.device)
    if flip:
        flipped = torch.rand(n, generator=generator) < 0.5
        cols = torch.where(flipped[:, None].to(x.device), cols.flip(1), cols)
    idx_rows = rows[:, None, :, None].expand(n, x.shape[1], h, x.shape[-1])
    x = torch.gather(x, 2, idx_rows)
    idx_cols = cols[:, None, None, :].expand(n, x.shape[1], h, w)
    return torch.gather(x, 3, idx_cols)


def random_view_zeroing(
    x_a: torch.Tensor,
    x_b: torch.Tensor,
    p: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero view a with probability p, else view b with probability p.

    The two events are exclusive, as in the paper's usable-information
    runs (p = 0.1 each), so single-view inputs become in-distribution.
    """
    p = check_float("p", p, minimum=0.0)
    if p > 0.5:
        raise ConfigError(f"p = {p:g} must be at most 0.5 (exclusive)")
    u = torch.rand(x_a.shape[0], generator=generator).to(x_a.device)
    keep_a = (u >= p).to(x_a.dtype)[:, None, None, None]
    keep_b = ((u < p) | (u >= 2 * p)).to(x_b.dtype)[:, None, None, None]
    return x_a * keep_a, x_b * keep_b
