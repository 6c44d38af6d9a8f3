"""A baseline pipeline fed the way the paper's released code feeds it.

For benchmarks only (``benchmarks/reference_pipeline.py``): it trains a
cpkit two-pathway network the way the paper's code does (paper-spec 2.1,
2.4), so that cpkit's own pipeline can be timed against it side by side
on the same model, batch and images. Nothing here is the paper's code;
it reproduces that code's *behaviour* as described in the spec:

- a dataset of uint8 images; per sample, with Pillow: pad 4 with the
  paper's fill colour, random crop, random horizontal flip, view b made
  from the augmented image and blurred (down by 4 and back, bilinear),
  then each view turned into a normalised tensor with the other side's
  columns zeroed;
- a ``torch.utils.data.DataLoader`` with worker processes (the paper's
  3), batch 128, shuffled, on the host; batches are copied to the device;
- float32 in the default memory layout;
- after every epoch, a BN "dry run" over the whole (augmented) training
  loader in eval mode with the BN layers in train mode, then the test
  pass (batch 100).

cpkit's pipeline keeps the normalised images on the device and augments,
blurs and cuts views for whole batches there (:mod:`cpkit.twoview`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageOps

from cpkit.config import check_int

#: the paper's padding colour (the CIFAR-10 mean in 0..255)
FILL = (125, 123, 113)


class PaperStyleViews(torch.utils.data.Dataset):
    """Two views of uint8 (N, H, W, 3) images, made one sample at a time."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        mean: np.ndarray,
        std: np.ndarray,
        train: bool,
        blur: bool,
        view_size: int | None = None,
        pad: int = 4,
    ) -> None:
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 (N, H, W, C)")
        self.images, self.labels = images, labels
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.train, self.blur, self.pad = train, blur, pad
        self.size = images.shape[1]
        self.view_size = view_size or self.size // 2

    def __len__(self) -> int:
        return len(self.images)

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        x = np.asarray(image, dtype=np.float32) / 255.0
        x = (x - self.mean) / self.std
        return torch.from_numpy(x.transpose(2, 0, 1).copy())

    def __getitem__(self, i: int):
        image = Image.fromarray(self.images[i])
        s = self.size
        if self.train:
            image = ImageOps.expand(image, border=self.pad, fill=FILL)
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2,)).tolist()
            image = image.crop((dx, dy, dx + s, dy + s))
            if torch.rand(()) < 0.5:
                image = ImageOps.mirror(image)
        other = image
        if self.blur:
            small = image.resize((s // 4, s // 4), Image.BILINEAR)
            other = small.resize((s, s), Image.BILINEAR)
        x_a, x_b = self._tensor(image), self._tensor(other)
        x_a[..., self.view_size :] = 0.0
        x_b[..., : s - self.view_size] = 0.0
        return x_a, x_b, int(self.labels[i])


def loader(
    data: PaperStyleViews, batch_size: int, workers: int
) -> torch.utils.data.DataLoader:
    """The paper's loader: shuffled for training, ``workers`` processes."""
    workers = check_int("workers", workers, minimum=0)
    return torch.utils.data.DataLoader(
        data,
        batch_size=batch_size,
        shuffle=data.train,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
    )


def paper_style_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: torch.utils.data.DataLoader,
    test_loader: torch.utils.data.DataLoader,
    device: torch.device,
) -> tuple[float, float]:
    """One epoch as the paper's code runs it: train, BN dry run, test.

    Returns (mean training loss, test accuracy in percent).
    """
    model.train()
    total, count = 0.0, 0
    for x_a, x_b, y in train_loader:
        x_a, x_b = x_a.to(device), x_b.to(device)
        y = y.to(device)
        loss = F.cross_entropy(model(x_a, x_b), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)  # a host sync per step, as there
        count += len(y)
    # the dry run: BN statistics re-estimated over the training loader
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.train()
    with torch.no_grad():
        for x_a, x_b, _ in train_loader:
            model(x_a.to(device), x_b.to(device))
    model.eval()
    correct, n = 0, 0
    with torch.no_grad():
        for x_a, x_b, y in test_loader:
            logits = model(x_a.to(device), x_b.to(device))
            correct += (logits.argmax(1).cpu() == y).sum().item()
            n += len(y)
    return total / count, 100.0 * correct / n
