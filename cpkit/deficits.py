"""What one sensor gets during a deficit window (paper 2.2).

``blur`` degrades view b (down by 4 and back up, bilinear, antialiased);
``dissociate`` feeds view b from other images of the batch and takes each
label from either image with probability 1/2. A :class:`DeficitWindow`
says in which epochs a deficit applies; outside it the data is clean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cpkit.config import check_choice, check_int, check_window

DEFICITS = ("none", "blur", "dissociation")


@dataclass(frozen=True)
class DeficitWindow:
    """A deficit applied during epochs [onset, onset + length)."""

    kind: str = "none"  # "none", "blur" or "dissociation"
    onset: int = 0  # first epoch with the deficit
    length: int = 0  # number of deficit epochs
    total_epochs: int = 1  # the run's length, to check the window fits

    def __post_init__(self) -> None:
        check_choice("deficit", self.kind, DEFICITS)
        check_int("deficit_onset", self.onset, minimum=0)
        check_int("deficit_length", self.length, minimum=0)
        check_int("total_epochs", self.total_epochs, minimum=1)
        check_window(self.onset, self.length, self.total_epochs, "epochs")

    def active(self, epoch: int) -> bool:
        """Whether the deficit applies in ``epoch`` (0-based)."""
        return (
            self.kind != "none"
            and self.length > 0
            and self.onset <= epoch < self.onset + self.length
        )


def blur(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Down-sample by ``factor`` and back: (batch, channels, h, w)."""
    factor = check_int("blur factor", factor, minimum=1)
    h, w = x.shape[-2:]
    small = F.interpolate(
        x,
        size=(max(1, h // factor), max(1, w // factor)),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    return F.interpolate(
        small, size=(h, w), mode="bilinear", align_corners=False
    )


def dissociate(
    x_b: torch.Tensor, y: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """View b from another image of the batch; labels from either image.

    Returns the permuted view b, the labels (each that of image a or of
    the image now in view b, with probability 1/2), and a boolean mask
    that is True where the label came from view b.
    """
    n = x_b.shape[0]
    perm = torch.randperm(n, generator=generator).to(x_b.device)
    from_b = (torch.rand(n, generator=generator) < 0.5).to(y.device)
    labels = torch.where(from_b, y[perm.to(y.device)], y)
    return x_b[perm], labels, from_b
