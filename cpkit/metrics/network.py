"""Measurements of a trained two-pathway network.

- :func:`network_rsv`: the paper's RSV estimator (paper-spec 2.5): a fixed
  conditioning set of test images (the paper: the last 100); for each of
  them, the population variance of every unit when the *other* view runs
  over the test set. Units are the representation before the linear
  classifier, not pooled (layer4 of the Split-ResNet, 512x4x4). The sign
  is cpkit's (Eq. 5 as printed): +1 = unit driven by view a only.
- :func:`linear_probe`: a fresh multinomial logistic regression on the
  frozen, pooled fused features (how much the representation still holds,
  whatever the network's own head learned).
- :func:`usable_information`: H(Y) - cross-entropy, in bits (paper A.5).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from cpkit.config import check_float, check_int
from cpkit.errors import ConfigError
from cpkit.metrics.rsv import relative_source_variance
from cpkit.models import TwoViewNet
from cpkit.twoview import TwoViewData, make_views


def _views(data: TwoViewData, x: torch.Tensor):
    gen = torch.Generator().manual_seed(0)
    y = torch.zeros(len(x), dtype=torch.long, device=x.device)
    x_a, x_b, _, _ = make_views(x, y, data.view_size, "none", gen)
    return x_a, x_b


@torch.no_grad()
def network_rsv(
    model: TwoViewNet,
    data: TwoViewData,
    n_conditioning: int = 100,
    n_images: int | None = None,
    batch_size: int = 500,
) -> np.ndarray:
    """RSV of every unit at each conditioning image: (n_cond, units).

    The conditioning images are the last ``n_conditioning`` of the first
    ``n_images`` clean test images (default: all). Call
    :func:`cpkit.training.reestimate_bn` first to match the paper, which
    re-estimates BN statistics on clean training data before measuring.
    """
    n_conditioning = check_int("n_conditioning", n_conditioning, minimum=2)
    x = data.x_test if n_images is None else data.x_test[:n_images]
    if len(x) < n_conditioning:
        raise ConfigError(
            f"n_conditioning = {n_conditioning} exceeds the {len(x)} test "
            "images measured"
        )
    model.eval()
    x_a, x_b = _views(data, x)
    # the two pathways are separate, so their outputs are computed once
    p_a = torch.cat(
        [model.pathway_a(c) for c in x_a.split(batch_size)]
    ).float()
    p_b = torch.cat(
        [model.pathway_b(c) for c in x_b.split(batch_size)]
    ).float()
    cond = range(len(x) - n_conditioning, len(x))

    def variance(fixed: torch.Tensor, varying: torch.Tensor) -> torch.Tensor:
        total = sq = None
        for chunk in varying.split(batch_size):
            u = model.units_from_fused(fixed + chunk).flatten(1).double()
            s, s2 = u.sum(0), (u * u).sum(0)
            total = s if total is None else total + s
            sq = s2 if sq is None else sq + s2
        mean = total / len(varying)
        return (sq / len(varying) - mean * mean).clamp_min(0.0)

    sv_a = torch.stack([variance(p_b[j], p_a) for j in cond])  # SV(A, b_j)
    sv_b = torch.stack([variance(p_a[j], p_b) for j in cond])  # SV(B, a_j)
    return relative_source_variance(sv_a.cpu().numpy(), sv_b.cpu().numpy())


@torch.no_grad()
def pooled_features(
    model: TwoViewNet,
    data: TwoViewData,
    train: bool,
    batch_size: int = 500,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled fused features of clean, unaugmented images, and labels."""
    model.eval()
    x, y = (
        (data.x_train, data.y_train) if train else (data.x_test, data.y_test)
    )
    feats = []
    for chunk in x.split(batch_size):
        x_a, x_b = _views(data, chunk)
        feats.append(model.features(x_a, x_b).float())
    return torch.cat(feats), y


def linear_probe(
    model: TwoViewNet,
    data: TwoViewData,
    l2: float = 1e-3,
    steps: int = 200,
) -> float:
    """Test accuracy (percent) of a logistic regression on frozen features.

    Features are standardised with the training set's statistics; the
    regression is fitted full-batch with L-BFGS and an L2 penalty ``l2``.
    """
    l2 = check_float("l2", l2, minimum=0.0)
    steps = check_int("steps", steps, minimum=1)
    f_tr, y_tr = pooled_features(model, data, train=True)
    f_te, y_te = pooled_features(model, data, train=False)
    mean, std = f_tr.mean(0), f_tr.std(0).clamp_min(1e-6)
    f_tr, f_te = (f_tr - mean) / std, (f_te - mean) / std
    with torch.enable_grad():
        w = torch.zeros(f_tr.shape[1], data.classes, device=f_tr.device)
        b = torch.zeros(data.classes, device=f_tr.device)
        w.requires_grad_(True)
        b.requires_grad_(True)
        opt = torch.optim.LBFGS(
            [w, b], max_iter=steps, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(f_tr @ w + b, y_tr) + l2 * (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
    with torch.no_grad():
        pred = (f_te @ w + b).argmax(1)
    return 100.0 * (pred == y_te).float().mean().item()


def usable_information(loss_nats: float, classes: int = 10) -> float:
    """Usable information in bits: log2(classes) - loss / ln 2."""
    check_int("classes", classes, minimum=2)
    return math.log2(classes) - float(loss_nats) / math.log(2)
