"""The video chapter's parts: clips, the Multi-View Transformer, the
frame deficits, the window sweep and the real-video loader."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cpkit import video as video_module
from cpkit.clips import (
    ClipSpec,
    VideoFolderSpec,
    directions,
    place,
    shipped_clips,
    sprite_clips,
    synergy_probe,
    video_folder,
)
from cpkit.deficits import DeficitWindow
from cpkit.errors import ConfigError
from cpkit.profiles import get_profile
from cpkit.transformer import (
    MultiViewTransformer,
    TransformerSpec,
    patchify,
    unpatchify,
)
from cpkit.video import (
    VideoTrainConfig,
    train_clips,
    transformer_rsv,
    window_sweep,
)

# sklearn's 8 x 8 digits as sprites: small and fast
SMALL = ClipSpec("digits", sprite=8, canvas=8, shift=1, test_images=300)


@pytest.fixture(scope="module")
def small():
    return sprite_clips(SMALL)


def tiny_model(data, cross_bias=3.0, seed=0):
    torch.manual_seed(seed)
    spec = TransformerSpec(
        image_size=data.spec.canvas,
        patch=2,
        dim=16,
        depth=1,
        heads=2,
        classes=data.classes,
        cross_bias=cross_bias,
    )
    return MultiViewTransformer(spec)


# --- clips ------------------------------------------------------------------


def test_frame_b_is_frame_a_moved_on_the_torus(small):
    gen = torch.Generator().manual_seed(0)
    a, b, y = small.draw(small.x_train[:50], small.y_train[:50], gen)
    content, move = small.split(y)
    assert torch.equal(content, small.y_train[:50])
    for i in range(50):
        shift = tuple(small.moves[move[i]].tolist())
        assert torch.equal(torch.roll(a[i, 0], shift, (0, 1)), b[i, 0])
    # the whole sprite is on the canvas, wherever it starts
    assert torch.allclose(a.sum((1, 2, 3)), small.x_train[:50].sum((1, 2)))


def test_directions_are_distinct_and_bad_specs_fail_in_one_line():
    moves = directions(8, 2)
    assert len({tuple(m) for m in moves.tolist()}) == 8
    with pytest.raises(ConfigError, match="longer shift"):
        directions(16, 1)
    with pytest.raises(ConfigError, match="too long"):
        ClipSpec(sprite=8, canvas=8, shift=4, directions=4)
    with pytest.raises(ConfigError, match="clip source"):
        ClipSpec(source="kinetics")


def test_place_wraps_at_the_edges():
    sprite = torch.zeros(1, 2, 2)
    sprite[0, 0, 0], sprite[0, 1, 1] = 1.0, 2.0
    out = place(sprite, torch.tensor([[3, 3]]), canvas=4)
    assert out[0, 3, 3] == 1.0 and out[0, 0, 0] == 2.0
    assert out.sum() == 3.0


def test_one_frame_cannot_tell_the_motion_two_frames_can(small):
    """Synergy: direction from one frame at chance, from both nearly
    perfect; content from either frame well above chance."""
    result = synergy_probe(small, train_clips=1200)
    chance = result["chance"]["direction"]
    for frame in ("frame a", "frame b"):
        # 300 test clips: 3 binomial SE of 12.5 % is 5.7 points
        assert result[frame]["direction"] < chance + 6.0
        assert result[frame]["content"] > 3 * result["chance"]["content"]
    assert result["both"]["direction"] > 90.0


def test_train_and_test_clips_never_share_an_image(small):
    train = {t.numpy().tobytes() for t in small.x_train}
    assert len(small.test[2]) == SMALL.test_images
    for frame in small.test[0][:, 0]:
        # undo the placement at every offset: never a training image
        for r in range(8):
            for c in range(8):
                back = torch.roll(frame, (-r, -c), (0, 1))
                assert back.numpy().tobytes() not in train


# --- the transformer ------------------------------------------------------


def test_patchify_round_trip():
    x = torch.randn(3, 2, 12, 12)
    tokens = patchify(x, 4)
    assert tokens.shape == (3, 9, 32)
    # the first token is the top-left patch, channels last
    assert torch.equal(tokens[0, 0].reshape(4, 4, 2)[..., 1], x[0, 1, :4, :4])
    assert torch.equal(unpatchify(tokens, 4, 2, 3), x)
    with pytest.raises(ConfigError, match="does not divide"):
        patchify(x, 5)


def test_view_embeddings_tell_the_frames_apart(small):
    model = tiny_model(small)
    frame = small.test[0][:4]
    assert not torch.allclose(
        model.tokens(frame, "a"), model.tokens(frame, "b")
    )
    # the same two frames in the other order give another prediction
    a, b = small.test[0][:8], small.test[1][:8]
    assert not torch.allclose(model(a, b), model(b, a))


def test_cross_view_bias_starts_at_the_same_place(small):
    model = tiny_model(small, cross_bias=2.5)
    block = model.blocks[0]
    n = model.spec.tokens_per_view
    bias = block.attention_bias(2 * n).detach()
    assert bias.shape == (2, 2 * n, 2 * n)
    same_place = torch.zeros(2 * n, 2 * n, dtype=torch.bool)
    idx = torch.arange(n)
    same_place[idx, idx + n] = True
    same_place[idx + n, idx] = True
    assert torch.all(bias[:, same_place] == 2.5)
    assert torch.all(bias[:, ~same_place] == 0.0)


def test_rsv_is_plus_one_when_frame_b_cannot_move_a_unit(small):
    model = tiny_model(small)
    with torch.no_grad():
        model.embed["b"].weight.zero_()
    rsv = transformer_rsv(model, small, clips=6)
    assert rsv.shape == (6, model.spec.dim)
    assert np.allclose(rsv, 1.0)
    model = tiny_model(small)
    rsv = transformer_rsv(model, small, clips=6)
    assert np.all((rsv > -1) & (rsv < 1))


# --- training and the window sweep -----------------------------------------


def test_warm_up_then_cosine():
    config = VideoTrainConfig(lr=1.0, min_lr=0.1, warmup_epochs=2, epochs=6)
    assert config.lr_at(0) == 0.0
    assert config.lr_at(1) == pytest.approx(0.5)
    assert config.lr_at(2) == pytest.approx(1.0)
    assert config.lr_at(4) == pytest.approx(0.55)
    assert config.lr_at(6) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="warmup_epochs"):
        VideoTrainConfig(warmup_epochs=4, epochs=4)


def test_the_deficit_touches_frame_b_in_its_window_only(small, monkeypatch):
    calls = []
    real = video_module.dissociate

    def spy(b, y, generator):
        calls.append(len(y))
        return real(b, y, generator)

    monkeypatch.setattr(video_module, "dissociate", spy)
    config = VideoTrainConfig(epochs=4, batch_size=500, last_n=1)
    window = DeficitWindow("dissociation", 1, 2, 4)
    log, _ = train_clips(tiny_model(small), small, config, 0, window)
    steps = -(-len(small.x_train) // 500)
    assert len(calls) == 2 * steps
    assert log.deficit == [False, True, True, False]


def test_blur_touches_frame_b_in_its_window_only(small, monkeypatch):
    seen = []
    real = video_module.blur

    def spy(x):
        seen.append(x.shape)
        return real(x)

    monkeypatch.setattr(video_module, "blur", spy)
    config = VideoTrainConfig(epochs=3, batch_size=500, last_n=1)
    window = DeficitWindow("blur", 2, 1, 3)
    log, _ = train_clips(tiny_model(small), small, config, 0, window)
    assert len(seen) == -(-len(small.x_train) // 500)
    assert log.deficit == [False, False, True]


def test_the_full_profile_builds_and_steps_on_cpu():
    """The GPU profile's model and data are the ones the chapter uses:
    build them and take one training step on a few clips."""
    full = get_profile("video", "full")
    data = sprite_clips(
        dataclasses.replace(full.clip_spec(), test_images=4, train_images=8)
    )
    torch.manual_seed(0)
    model = MultiViewTransformer(full.transformer_spec(data.classes))
    assert sum(p.numel() for p in model.parameters()) > 20_000_000  # ViT-S
    config = dataclasses.replace(
        full.train_config(), epochs=2, warmup_epochs=1, last_n=1
    )
    log, _ = train_clips(model, data, config, 0)
    assert len(log.test_acc) == 2 and np.isfinite(log.train_loss).all()


def test_a_window_run_sees_the_clips_of_the_run_without(small, monkeypatch):
    """The deficit draws from its own stream: with and without a window,
    every batch of clean clips is the same (before the deficit acts)."""
    seen: list[list[float]] = []
    real = type(small).batches

    def recording(self, batch_size, gen, train=True):
        for a, b, y in real(self, batch_size, gen, train):
            if train:
                seen[-1].append(float((a.sum() + 2 * b.sum()) + y.sum()))
            yield a, b, y

    monkeypatch.setattr(type(small), "batches", recording)
    config = VideoTrainConfig(epochs=4, batch_size=250, last_n=1)
    for window in (None, DeficitWindow("dissociation", 1, 2, 4)):
        seen.append([])
        train_clips(tiny_model(small), small, config, 5, window)
    assert len(seen[0]) > 4 and seen[0] == seen[1]


def test_a_window_branch_equals_a_run_with_that_window(small):
    """The sweep resumes the base run's state at the onset: the result
    must be exactly the run that had the window from the start."""
    config = VideoTrainConfig(epochs=4, batch_size=250, last_n=2)
    window = DeficitWindow("dissociation", 2, 1, 4)
    scratch, _ = train_clips(
        tiny_model(small, seed=3), small, config, 3, window
    )
    result = window_sweep(
        lambda s: tiny_model(small, seed=s),
        small,
        config,
        3,
        "dissociation",
        [2],
        1,
        rsv_clips=4,
    )
    branch = result["windows"][0]
    assert branch["log"]["test_acc"] == scratch.test_acc
    assert branch["log"]["train_loss"] == scratch.train_loss
    base = result["base"]["log"]
    # before the window the two runs are one and the same
    assert base["train_loss"][:2] == scratch.train_loss[:2]
    assert base["train_loss"][2] != scratch.train_loss[2]
    assert branch["drop"] == pytest.approx(
        result["base"]["acc"] - branch["acc"]
    )


def test_a_results_folder_keeps_finished_sweeps(small, tmp_path, monkeypatch):
    from cpkit import video_report

    profile = get_profile(
        "video",
        "quick",
        source="digits",
        sprite=8,
        canvas=8,
        shift=1,
        test_images=300,
        patch=2,
        dim=16,
        depth=1,
        heads=2,
        epochs=3,
        window_length=1,
        window_onsets=(0.0, 1.0),
        last_n=1,
        rsv_clips=3,
    )
    calls = []
    real = video_report.window_sweep

    def counting(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(video_report, "window_sweep", counting)
    first = video_report.VideoStudy.run(
        profile, small, "cpu", [0, 1], tmp_path
    )
    again = video_report.VideoStudy.run(
        profile, small, "cpu", [1, 0], tmp_path
    )
    assert calls == [0, 1]  # the second study trained nothing
    assert len(list(tmp_path.glob("video-*.pt"))) == 2
    for s in (0, 1):
        for onset in (0, 2):
            kept, read = first.window(onset, s), again.window(onset, s)
            assert kept["drop"] == read["drop"]
            assert kept["log"] == read["log"]
            assert np.array_equal(kept["rsv"], read["rsv"], equal_nan=True)
    record = torch.load(next(tmp_path.glob("video-*.pt")), weights_only=True)
    assert '"seed":' in record["meta"]["run"]
    # another budget is another sweep
    other = dataclasses.replace(profile, epochs=4)
    video_report.VideoStudy.run(other, small, "cpu", [0], tmp_path)
    assert calls == [0, 1, 0]


def test_a_window_that_does_not_fit_fails_in_one_line(small):
    config = VideoTrainConfig(epochs=4, last_n=1)
    with pytest.raises(ConfigError, match="ends after"):
        window_sweep(
            lambda s: tiny_model(small), small, config, 0, "blur", [3], 2
        )
    with pytest.raises(ConfigError, match="does not fit"):
        train_clips(
            tiny_model(small),
            small,
            config,
            0,
            DeficitWindow("blur", 3, 2, 5),
        )


def test_the_cross_view_bias_lets_the_transformer_learn_motion():
    """The quick profile's design choice, checked: with the same-place
    cross-view bias the quick transformer learns the direction of motion
    in 8 epochs; started without it, it stays near chance (12.5 %)."""
    quick = get_profile("video", "quick")
    data = sprite_clips(
        dataclasses.replace(quick.clip_spec(), test_images=500)
    )
    config = VideoTrainConfig(epochs=8, last_n=1)
    final = {}
    for bias in (quick.cross_bias, 0.0):
        torch.manual_seed(0)
        spec = dataclasses.replace(
            quick.transformer_spec(data.classes), cross_bias=bias
        )
        log, _ = train_clips(MultiViewTransformer(spec), data, config, 0)
        final[bias] = log.direction_acc[-1]
    assert final[quick.cross_bias] > 60.0
    assert final[0.0] < 25.0


def test_video_profile():
    quick = get_profile("video", "quick")
    assert quick.onset_epochs() == [0, 2, 4, 6, 8, 10]
    full = get_profile("video", "full")
    assert full.onset_epochs() == [0, 20, 40, 60, 80, 100]  # paper Fig. 8
    assert full.window_length * 6 == full.epochs
    with pytest.raises(ConfigError, match="window_onsets"):
        get_profile("video", "quick", window_onsets=(0.0, 1.5))
    with pytest.raises(ConfigError, match="window_deficit"):
        get_profile("video", "quick", window_deficit="zero")
    with pytest.raises(ConfigError, match="does not divide"):
        get_profile("video", "quick", patch=5)
    with pytest.raises(ConfigError, match="must be shorter"):
        get_profile("video", "quick", window_length=12)


# --- real video ---------------------------------------------------------


@pytest.fixture
def kinetics_layout(tmp_path):
    clips = {c.name: c for c in shipped_clips()}
    for name, clip in (
        ("biking", "bikes.mp4"),
        ("phoning", "carphone_pristine.mp4"),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / clip).symlink_to(clips[clip])
    return tmp_path


def test_video_folder_reads_real_clips(kinetics_layout):
    spec = VideoFolderSpec(str(kinetics_layout), size=24, pairs_per_clip=3)
    real = video_folder(spec)
    assert real.classes == ["biking", "phoning"]
    assert real.frame_a.shape == real.frame_b.shape == (6, 3, 24, 24)
    assert real.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert real.clip.tolist() == [0, 0, 0, 1, 1, 1]
    assert [p.name for p in real.files] == [
        "bikes.mp4",
        "carphone_pristine.mp4",
    ]
    assert 0.0 <= float(real.frame_a.min()) <= float(real.frame_a.max()) <= 1
    # two different frames of one clip, a multiple of 1/3 s apart (to
    # within one frame: 1/25 s for bikes, 1/29.97 s for carphone)
    assert all(
        not torch.equal(real.frame_a[i], real.frame_b[i]) for i in range(6)
    )
    multiples = real.gap / spec.offset
    assert torch.all(multiples >= 0.8)
    assert torch.all(
        (multiples - multiples.round()).abs() * spec.offset < 0.041
    )


def test_video_folder_errors_are_one_line(kinetics_layout, tmp_path_factory):
    (kinetics_layout / "empty").mkdir()
    with pytest.raises(ConfigError, match="empty holds no clip"):
        video_folder(VideoFolderSpec(str(kinetics_layout)))
    (kinetics_layout / "empty" / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(ConfigError, match="broken.mp4 is not a readable"):
        video_folder(VideoFolderSpec(str(kinetics_layout)))
    (kinetics_layout / "empty" / "broken.mp4").unlink()
    (kinetics_layout / "empty").rmdir()
    with pytest.raises(ConfigError, match="shorter than the frame offset"):
        video_folder(VideoFolderSpec(str(kinetics_layout), offset=30.0))
    bare = tmp_path_factory.mktemp("bare")
    (bare / "file.txt").write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        video_folder(VideoFolderSpec(str(bare / "file.txt")))
    with pytest.raises(ConfigError, match="no class folders"):
        video_folder(VideoFolderSpec(str(bare)))
    with pytest.raises(ConfigError, match="does not exist"):
        video_folder(VideoFolderSpec(str(bare / "missing")))
