"""Two-pathway networks of the stereo experiments (paper 2.3, A.4).

Every model takes two views ``(x_a, x_b)`` of the same frame, runs each
through its own pathway, **sums** the two pathway outputs and passes the
sum through a shared trunk. ``units(x_a, x_b)`` returns the representation
whose units the RSV is measured on (the last layer before the linear
classifier, not pooled); ``forward(x_a, x_b, head)`` returns logits.

- :class:`SplitResNet18`: the paper's Split-ResNet-18, a pre-activation
  ResNet-18 cut after conv3_x; ``heads="multi"`` adds the single-view
  heads ``a`` and ``b`` of the dissociation experiments; ``width``
  multiplies every channel count (1 = the paper's network).
- :class:`TwoPathwayAllCNN`: the depth experiment's network with ``n``
  down-sampling blocks per pathway (``n`` honoured; the released code
  always built n = 2).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from cpkit.config import check_choice, check_float, check_int
from cpkit.errors import ConfigError

HEADS = ("single", "multi")


def _channels(base: int, width: float) -> int:
    return max(1, round(base * width))


class PreActBlock(nn.Module):
    """Pre-activation residual block, bias-free convolutions."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        h = self.conv1(h)
        return self.conv2(F.relu(self.bn2(h))) + skip


def _stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        PreActBlock(c_in, c_out, stride), PreActBlock(c_out, c_out, 1)
    )


class TwoViewNet(nn.Module):
    """Shared plumbing: heads, logits, and the pathway sum."""

    head_names: tuple[str, ...] = ("both",)

    @staticmethod
    def _check_sizes(in_channels: int, classes: int, width: float) -> float:
        check_int("in_channels", in_channels, minimum=1)
        check_int("classes", classes, minimum=2)
        return check_float("width", width, minimum=0.0, strict=True)

    def _make_heads(self, features: int, classes: int, heads: str) -> None:
        check_choice("heads", heads, HEADS)
        self.head_names = ("both", "a", "b") if heads == "multi" else ("both",)
        self.heads = nn.ModuleDict(
            {name: nn.Linear(features, classes) for name in self.head_names}
        )

    def pathways(
        self, x_a: torch.Tensor, x_b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each view through its own pathway (before the sum)."""
        return self.pathway_a(x_a), self.pathway_b(x_b)

    def units_from_fused(self, z: torch.Tensor) -> torch.Tensor:
        """RSV units from the summed pathway output ``z``."""
        return self.trunk(z)

    def units(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """The representation before the linear classifier, not pooled."""
        p_a, p_b = self.pathways(x_a, x_b)
        return self.units_from_fused(p_a + p_b)

    def features(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """Pooled features the heads read (batch, features)."""
        return self.units(x_a, x_b).mean(dim=(2, 3))

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor, head: str = "both"
    ) -> torch.Tensor:
        if head not in self.head_names:
            raise ConfigError(
                f"head = {head!r} is not one of: {', '.join(self.head_names)}"
            )
        return self.heads[head](self.features(x_a, x_b))


class SplitResNet18(TwoViewNet):
    """Split-ResNet-18 (paper 2.3): two stems up to conv3_x, summed.

    Pathway: conv3x3(64) BN ReLU, layer1 (2 blocks, 64), layer2 (2 blocks,
    128, stride 2). Trunk: layer3 (256, s2), layer4 (512, s2), average
    pool, linear. Channel counts are multiplied by ``width``. The RSV
    units are layer4's output before pooling.
    """

    def __init__(
        self,
        in_channels: int = 3,
        classes: int = 10,
        width: float = 1.0,
        heads: str = "single",
    ) -> None:
        super().__init__()
        width = self._check_sizes(in_channels, classes, width)
        c = [_channels(b, width) for b in (64, 128, 256, 512)]

        def pathway() -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(in_channels, c[0], 3, 1, 1, bias=False),
                nn.BatchNorm2d(c[0]),
                nn.ReLU(),
                _stage(c[0], c[0], 1),
                _stage(c[0], c[1], 2),
            )

        self.pathway_a = pathway()
        self.pathway_b = pathway()
        self.trunk = nn.Sequential(
            _stage(c[1], c[2], 2), _stage(c[2], c[3], 2)
        )
        self._make_heads(c[3], classes, heads)


def _conv_bn_relu(c_in: int, c_out: int, k: int, stride: int) -> list:
    return [
        nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


class TwoPathwayAllCNN(TwoViewNet):
    """The depth experiment's two-pathway All-CNN (paper A.4).

    Per pathway: conv 96, then for i = 1..n: conv 96*2^(i-1), conv 96*2^i
    with stride 2. Pathways summed; shared conv3x3 96*2^n, conv1x1
    96*2^n (the RSV units), global average pool, linear. The paper ends
    with a 1x1 convolution to the classes before pooling, which is the
    same linear map applied before instead of after the average.
    """

    def __init__(
        self,
        n_blocks: int = 2,
        in_channels: int = 3,
        classes: int = 10,
        width: float = 1.0,
        heads: str = "single",
    ) -> None:
        super().__init__()
        n = check_int("n_blocks", n_blocks, minimum=1)
        width = self._check_sizes(in_channels, classes, width)
        self.n_blocks = n
        base = _channels(96, width)

        def pathway() -> nn.Sequential:
            layers = _conv_bn_relu(in_channels, base, 3, 1)
            for i in range(1, n + 1):
                c = base * 2 ** (i - 1)
                layers += _conv_bn_relu(c, c, 3, 1)
                layers += _conv_bn_relu(c, base * 2**i, 3, 2)
            return nn.Sequential(*layers)

        top = base * 2**n
        self.pathway_a = pathway()
        self.pathway_b = pathway()
        self.trunk = nn.Sequential(
            *_conv_bn_relu(top, top, 3, 1), *_conv_bn_relu(top, top, 1, 1)
        )
        self._make_heads(top, classes, heads)


ARCHS = ("sresnet18", "allcnn")


def build_model(
    arch: str,
    in_channels: int,
    classes: int,
    width: float = 1.0,
    heads: str = "single",
    n_blocks: int = 2,
) -> TwoViewNet:
    """A two-pathway network by name (``sresnet18`` or ``allcnn``)."""
    check_choice("arch", arch, ARCHS)
    if arch == "sresnet18":
        return SplitResNet18(in_channels, classes, width, heads)
    return TwoPathwayAllCNN(n_blocks, in_channels, classes, width, heads)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
