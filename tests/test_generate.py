"""Guided generation on small randomly initialised models (what is tested does not need training),
plus one check with trained weights that an independent judge recognises the digits."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from digittui.generate import GenerateConfig, GenerateStep, Init, generate_many, verdict
from digittui.models import CNN, VAE, CNNConfig, VAEConfig
from digittui.spec import parse

REPO = Path(__file__).resolve().parent.parent
SMALL_CNN = CNNConfig(conv1=4, conv2=8, conv3=8, hidden=16)  # the real layout (16 outputs), fewer channels


@pytest.fixture(scope="module")
def models() -> tuple[CNN, VAE]:
    torch.manual_seed(0)
    return CNN(SMALL_CNN).eval(), VAE(VAEConfig(channels=8, hidden=32)).eval()


def quick(**overrides) -> GenerateConfig:
    return GenerateConfig(**{"count": 3, "steps": 3, "init_candidates": 2, **overrides})


@pytest.mark.parametrize("spec, width, positions", [
    ("7", 28, 1), ("2026", 112, 4), ("3+8", 28, 1), ("class:11", 28, 1)])
def test_shapes(models, spec, width, positions):
    cnn, vae = models
    (result,) = generate_many([parse(spec)], cnn, vae, quick())
    n = 3
    assert result.images.shape == (n, 28, width) and result.images.dtype == torch.float32
    assert 0 <= float(result.images.min()) and float(result.images.max()) <= 1
    assert result.latents.shape == (n, positions, vae.config.latent_dim)
    assert result.probs.shape == (n, positions, 16)
    assert result.predicted.shape == (n, positions)
    assert int(result.predicted.max()) < 10  # the top *digit*, even for class:11
    assert result.confidence.shape == (n,)
    assert result.trajectory.shape[1:] == (n, 28, width) and result.trajectory.shape[0] >= 2
    torch.testing.assert_close(result.trajectory[-1], result.images)
    # The journey: a frame every report_every steps from step 0, the result last, each with the
    # CNN's confidence in it.
    assert result.trajectory_steps[0] == 0 and result.trajectory_steps[-1] == result.steps
    assert result.trajectory_confidence.shape == (result.trajectory.shape[0], n)
    torch.testing.assert_close(result.trajectory_confidence[-1], result.confidence)


def test_confidence_definitions(models):
    cnn, vae = models
    digit, number, hybrid, unit = generate_many(
        [parse(s) for s in ("7", "2026", "3+8", "class:11")], cnn, vae, quick())
    torch.testing.assert_close(digit.confidence, digit.probs[:, 0, 7])
    torch.testing.assert_close(number.confidence,
                               number.probs.gather(2, torch.tensor([2, 0, 2, 6]).view(1, 4, 1).expand(3, 4, 1))
                               .squeeze(2).prod(1))
    torch.testing.assert_close(hybrid.confidence, hybrid.probs[:, 0, [3, 8]].min(1).values)
    torch.testing.assert_close(unit.confidence, unit.probs[:, 0, 11])
    # The CNN's own view of the image, recomputed from the returned pixels.
    with torch.no_grad():
        again = torch.softmax(cnn(number.images.view(3, 28, 4, 28).permute(0, 2, 1, 3).reshape(12, 1, 28, 28)), 1)
    torch.testing.assert_close(again.view(3, 4, 16), number.probs, atol=1e-5, rtol=1e-4)


def test_confidence_is_the_calibrated_one(models):
    _, vae = models
    cnn = CNN(SMALL_CNN).eval()
    cnn.temperature = 0.5  # as checkpoints.load sets it from the checkpoint's calibration
    (digit,) = generate_many([parse("7")], cnn, vae, quick())
    with torch.no_grad():
        calibrated = torch.softmax(cnn(digit.images[:, None]) / 0.5, 1)
    torch.testing.assert_close(digit.probs[:, 0], calibrated, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(digit.confidence, calibrated[:, 7], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("init", list(Init))
def test_same_seed_same_images(models, init):
    cnn, vae = models
    requests = [parse("3"), parse("42")]
    a = generate_many(requests, cnn, vae, quick(seed=5, init=init))
    b = generate_many(requests, cnn, vae, quick(seed=5, init=init))
    c = generate_many(requests, cnn, vae, quick(seed=6, init=init))
    for x, y in zip(a, b):
        assert torch.equal(x.images, y.images) and torch.equal(x.latents, y.latents)
    assert not torch.equal(a[0].images, c[0].images)


def test_guidance_raises_the_target_probability(models):
    _, vae = models
    torch.manual_seed(1)
    cnn = CNN(SMALL_CNN).eval()
    cnn.fc2.weight.data *= 30  # untrained logits are nearly equal; spread them so gradients bite
    (result,) = generate_many([parse("4")], cnn, vae, quick(count=8, steps=15, init=Init.RANDOM, robust=False,
                                                            stop_confidence=1.01, lr=0.2, report_every=15))
    start, end = result.trajectory[0], result.images
    with torch.no_grad():
        p_start, p_end = (torch.softmax(cnn(x[:, None]), 1)[:, 4] for x in (start, end))
    assert float(p_end.mean()) > float(p_start.mean())
    assert result.steps == 15


def test_early_stop_freezes_confident_samples(models):
    cnn, vae = models
    # Every sample passes a threshold of 0 at once: one step, latents unchanged from the start.
    result = generate_many([parse("5")], cnn, vae, quick(steps=50, stop_confidence=1e-9, report_every=1))[0]
    assert result.steps == 1
    torch.testing.assert_close(result.trajectory[0], result.images)
    # An unreachable threshold runs every step.
    assert generate_many([parse("5")], cnn, vae, quick(steps=4, stop_confidence=1.01))[0].steps == 4


def test_on_step_reports_progress(models):
    cnn, vae = models
    seen: list[GenerateStep] = []
    generate_many([parse("1"), parse("19")], cnn, vae, quick(steps=4, report_every=2, stop_confidence=1.01),
                  on_step=seen.append)
    assert [(s.index, s.step) for s in seen] == [(0, 0), (1, 0), (0, 2), (1, 2), (0, 4), (1, 4)]
    assert seen[1].images.shape == (3, 28, 56) and seen[1].confidence.shape == (3,)
    assert all(s.steps == 4 and s.done == 0 for s in seen)


def test_should_stop_cancels(models):
    cnn, vae = models
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    (result,) = generate_many([parse("8")], cnn, vae, quick(steps=100, stop_confidence=1.01), should_stop=should_stop)
    assert result.cancelled and result.steps == 2
    assert result.images.shape == (3, 28, 28)


def _trained_weights() -> tuple[Path, Path] | None:
    for cnn, vae in ((os.environ.get("DIGITTUI_TEST_CNN"), os.environ.get("DIGITTUI_TEST_VAE")),
                     (REPO / "assets" / "decider.pt", REPO / "assets" / "vae.pt")):
        if cnn and vae and Path(cnn).is_file() and Path(vae).is_file():
            return Path(cnn), Path(vae)
    return None


@pytest.mark.mnist
@pytest.mark.parametrize("init", list(Init))
def test_judge_recognises_generated_digits(init):
    """The benchmark's independent judge (LeNet-5) agrees with what was asked for, from random starts
    as from picked ones."""
    weights = _trained_weights()
    if weights is None:
        pytest.skip("no trained weights: assets/decider.pt and assets/vae.pt, or DIGITTUI_TEST_CNN/_VAE")
    from digittui import checkpoints

    sys.path.insert(0, str(REPO / "benchmarks"))
    import judge

    cnn, vae = (checkpoints.load(path, kind).model for path, kind in zip(weights, ("cnn", "vae")))
    from digittui.generate import load_guide

    results = generate_many([parse(str(d)) for d in range(10)], cnn, vae, GenerateConfig(count=16, init=init),
                            guide=load_guide())
    agree = torch.cat([(judge.predict(judge.load(), r.images) == r.request.classes[0]).float() for r in results])
    assert float(agree.mean()) >= 0.97


def test_starts_pass_the_self_check():
    """Starts are draws that keep the CNN's verdict under every CHECKS warp, when the pool has enough:
    random draws the CNN reads as the digit often do not."""
    weights = _trained_weights()
    if weights is None:
        pytest.skip("no trained weights: assets/decider.pt and assets/vae.pt, or DIGITTUI_TEST_CNN/_VAE")
    from digittui import checkpoints
    from digittui.generate import CHECKS, _decode, checks_passed

    cnn, vae = (checkpoints.load(path, kind).model for path, kind in zip(weights, ("cnn", "vae")))
    config = GenerateConfig(count=16, steps=1)

    def passed(images: torch.Tensor) -> torch.Tensor:
        n = len(images)
        return checks_passed(images, torch.tensor([[3, 3]]).expand(n, 2), torch.full((n,), config.stop_confidence), cnn)

    starts = generate_many([parse("3")], cnn, vae, config)[0].trajectory[0][:, None]  # [16, 1, 28, 28]
    assert bool((passed(starts) == len(CHECKS)).all())
    with torch.no_grad():
        draws = _decode(vae, torch.randn(1000, vae.config.latent_dim, generator=torch.Generator().manual_seed(0)),
                        config.sharpness)
        threes = draws[torch.softmax(cnn(draws), 1)[:, 3] >= config.stop_confidence]
    assert len(threes) >= 16 and float((passed(threes) == len(CHECKS)).float().mean()) < 0.6  # measured: 0.39


@pytest.fixture
def tiny_checkpoints(tmp_path, models) -> list[str]:
    from digittui import checkpoints

    cnn, vae = models
    return ["--cnn", str(checkpoints.save(tmp_path / "cnn.pt", "cnn", cnn)),
            "--vae", str(checkpoints.save(tmp_path / "vae.pt", "vae", vae))]


def test_cli_generate_writes_every_sample(tmp_path, tiny_checkpoints, capsys):
    import numpy as np

    from digittui.cli import main

    out = tmp_path / "out.npz"
    args = ["generate", *map(str, range(10)), "--count", "3", "--steps", "2", "--npz", str(out),
            "--output", str(tmp_path / "grid.png"), "--gif", str(tmp_path / "anim.gif"), *tiny_checkpoints]
    assert main(args) == 0
    with np.load(out) as data:
        assert data["images"].shape == (30, 28, 28)
        assert np.bincount(data["targets"]).tolist() == [3] * 10
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "anim.gif").is_file()
    from PIL import Image

    with Image.open(tmp_path / "anim.gif") as gif:  # steps 0 and 2: the start and the result
        assert gif.n_frames == 2
    assert "digit 9" in capsys.readouterr().out
    assert main(args) == 0  # again: nothing overwritten
    assert (tmp_path / "out-1.npz").is_file() and (tmp_path / "grid-1.png").is_file()


def test_cli_generate_mixed_kinds_json(tmp_path, tiny_checkpoints, capsys):
    import json

    import numpy as np

    from digittui.cli import main

    out = tmp_path / "mixed.npz"
    assert main(["generate", "7, 2026", "3+8", "class:11", "-n", "2", "--steps", "1", "--json",
                 "--npz", str(out), *tiny_checkpoints]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["label"] for line in lines] == ["digit 7", "number 2026", "hybrid 3+8", "unlearned class 11"]
    with np.load(out) as data:
        assert data["images"].shape == (8, 28, 112)
        assert data["targets"].tolist() == [7, 7, -1, -1, -1, -1, -1, -1]
        assert data["classes"][2].tolist() == [2, 0, 2, 6] and data["widths"].tolist()[:3] == [28, 28, 112]


@pytest.mark.parametrize("argv, message", [
    (["generate", "10"], "ambiguous"),
    (["generate", "class:99"], "only 16 outputs"),
    (["explore", "morph", "3", "2026"], "not numbers"),
])
def test_cli_user_errors_are_one_line(argv, message, capsys):
    from digittui.cli import main

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_explore(tmp_path, tiny_checkpoints, tiny_mnist):
    from digittui.cli import main

    out = tmp_path / "ex"
    assert main(["explore", "sample", "-n", "4", "--out-dir", str(out), *tiny_checkpoints]) == 0
    assert main(["explore", "morph", "3", "3+8", "--frames", "4", "--out-dir", str(out),
                 "--gif", str(out / "m.gif"), *tiny_checkpoints]) == 0
    assert main(["explore", "latent-map", "--grid", "3", "--data-dir", str(tiny_mnist), "--out-dir", str(out),
                 *tiny_checkpoints]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["latent-map.png", "m.gif", "morph-3-3+8.png", "sample.png"]


def _made_up(spec: str, probs: list[list[list[float]]]) -> "Generated":
    """A Generated whose CNN readings are `probs` [N][positions][10] (the spare units at 0), so that
    verdict's counts are known by construction."""
    from digittui.generate import Generated

    request = parse(spec)
    p = torch.nn.functional.pad(torch.tensor(probs), (0, 6))  # [N, positions, 16]
    n, positions = p.shape[:2]
    target = request.classes[0]
    return Generated(request=request, images=torch.zeros(n, 28, 28 * positions), latents=torch.zeros(n, positions, 4),
                     confidence=p[:, 0, target] if request.kind != "number" else p.amax(-1).prod(1),
                     probs=p, predicted=p[..., :10].argmax(-1), trajectory=torch.zeros(1, n, 28, 28 * positions),
                     trajectory_confidence=torch.zeros(1, n), trajectory_steps=[0], steps=1)


def _one_hot(*digits: int, p: float = 1.0) -> list[float]:
    row = [0.0] * 10
    for d in digits:
        row[d] += p / len(digits)
    return row


def test_verdict_counts_digits_and_numbers_read_right():
    assert verdict(_made_up("7", [[_one_hot(7)], [_one_hot(1)], [_one_hot(7)]])) == "read as 7 in 2/3"
    # A number counts only when every position reads right.
    number = _made_up("42", [[_one_hot(4), _one_hot(2)], [_one_hot(4), _one_hot(3)]])
    assert verdict(number) == "read as 42 in 1/2"


def test_verdict_counts_hybrids_whose_top_two_are_the_pair():
    mixes = [[0.0] * 10 for _ in range(3)]
    mixes[0][3], mixes[0][8] = 0.5, 0.4  # 3 and 8 on top
    mixes[1][8], mixes[1][3], mixes[1][1] = 0.6, 0.3, 0.1  # 8 and 3, in the other order
    mixes[2][3], mixes[2][5], mixes[2][8] = 0.5, 0.3, 0.2  # 5 beats 8
    assert verdict(_made_up("3+8", [[m] for m in mixes])) == "3 and 8 are the top two digits in 2/3"


def test_verdict_of_an_unlearned_class_names_the_digit_the_cnn_sees():
    from digittui.generate import Generated

    result = _made_up("class:11", [[_one_hot(5, p=0.8)], [_one_hot(5, p=0.6)], [_one_hot(2, p=0.4)]])
    result = Generated(**{**result.__dict__, "confidence": torch.tensor([0.1, 0.2, 0.3])})
    assert verdict(result) == ("p(unit 11) 0.20; the digit it looks most like is 5 in 2/3 "
                               "(mean p of the top digit 0.60)")


def test_random_init_starts_each_sample_from_its_own_draw_in_order(models):
    """Init.RANDOM: sample i's first frame is the decoded i-th N(0, I) draw of the seed, so nothing
    was drawn in excess and nothing was chosen."""
    from digittui.generate import _decode

    cnn, vae = models
    config = quick(count=5, init=Init.RANDOM, seed=11)
    digit, number = generate_many([parse("3"), parse("42")], cnn, vae, config)
    draws = torch.randn(5 + 10, vae.config.latent_dim, generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        images = _decode(vae, draws, config.sharpness)[:, 0]  # rows: the digit's 5, then 5 x 2 positions
    torch.testing.assert_close(digit.trajectory[0], images[:5])
    torch.testing.assert_close(number.trajectory[0], torch.cat([images[5::2], images[6::2]], dim=2))


def test_cli_init_takes_random_or_picked(tmp_path, tiny_checkpoints, capsys):
    from digittui.cli import main

    with pytest.raises(SystemExit) as info:
        main(["generate", "7", "--init", "foo"])
    assert info.value.code == 2
    assert "'foo' is not a start: choose random or picked" in capsys.readouterr().err
    for init in ("random", "picked"):
        assert main(["generate", "7", "-n", "2", "--steps", "1", "--init", init, "--json", *tiny_checkpoints]) == 0


def test_cli_generate_shows_the_samples_in_a_terminal(tiny_checkpoints, tmp_path, monkeypatch):
    from rich.console import Console

    import digittui.cli.generate as cli_generate
    from digittui.cli import main

    def shown(width: int, argv: list[str]) -> str:
        screen = Console(width=width, force_terminal=True, color_system="truecolor", record=True)
        monkeypatch.setattr(cli_generate, "console", screen)
        assert main(argv + tiny_checkpoints) == 0
        return screen.export_text()

    # 28 columns a digit and a gap: three fit in 100 columns, so each spec shows 3 of its 5.
    text = shown(100, ["generate", "7", "3+8", "-n", "5", "--steps", "1"])
    assert "digit 7: 3 of 5" in text and "hybrid 3+8: 3 of 5" in text and "Showing 6 of 10 samples." in text
    assert "To keep them: --output FILE.png" in text
    assert text.count("▀") == 2 * 3 * 28 * 14
    # Fewer than three full-size digits fit in 80 columns: they are drawn at half size (14 x 7).
    text = shown(80, ["generate", "7", "-n", "5", "--steps", "1"])
    assert "digit 7: 5 of 5" in text and text.count("▀") == 5 * 14 * 7
    assert "▀" not in shown(100, ["generate", "7", "-n", "2", "--steps", "1", "-o", str(tmp_path / "g.png")])


def test_the_guide_steers_digits_and_the_cnn_its_own_units(models):
    """With a guide, a digit's path follows the guide's gradients; a class:k request follows the
    CNN's, whatever the guide."""
    cnn, vae = models
    guides = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        guides.append(CNN(SMALL_CNN).eval())
        guides[-1].fc2.weight.data *= 30  # untrained logits are nearly equal; spread them so gradients bite
    config = quick(count=4, steps=6, init=Init.RANDOM, stop_confidence=1.01)
    digit_1, unit_1 = generate_many([parse("4"), parse("class:11")], cnn, vae, config, guide=guides[0])
    digit_2, unit_2 = generate_many([parse("4"), parse("class:11")], cnn, vae, config, guide=guides[1])
    # Frame 1 is step 5 on the way (the result is each row's best latent by the CNN's reading, which
    # for this untrained CNN may be the start).
    assert not torch.allclose(digit_1.trajectory[1], digit_2.trajectory[1])
    torch.testing.assert_close(unit_1.trajectory, unit_2.trajectory)
    with torch.no_grad():  # and the guide's own reading of its target rose
        p = [torch.softmax(guides[0](x[:, None]), 1)[:, 4].mean() for x in digit_1.trajectory[:2]]
    assert float(p[1]) > float(p[0])


def test_random_starts_freeze_only_once_the_self_check_passes(models, monkeypatch):
    """From a random start a sample is done only when the CNN keeps its verdict under every CHECKS
    warp too; picked starts passed that check when they were picked, so only the jittered copy counts."""
    import digittui.generate as gen

    cnn, vae = models
    config = quick(steps=4, stop_confidence=1e-9)  # every image and copy passes the threshold at once
    monkeypatch.setattr(gen, "checks_passed", lambda images, *args: torch.zeros(len(images), dtype=torch.long))
    assert generate_many([parse("5")], cnn, vae, replace(config, init=Init.RANDOM))[0].steps == 4
    assert generate_many([parse("5")], cnn, vae, replace(config, init=Init.PICKED))[0].steps == 1
    monkeypatch.undo()
    assert generate_many([parse("5")], cnn, vae, replace(config, init=Init.RANDOM))[0].steps == 1


@pytest.mark.parametrize("init", list(Init))
def test_a_fitted_prior_leaves_the_guided_search_as_it_was(models, tiny_mnist, init):
    """The search starts from and is pulled towards N(0, I) whatever prior the VAE was given: a
    fitted mixture as the search's prior made random starts worse (benchmarks/RESULTS.md)."""
    from digittui import fitprior
    from digittui.data import load_mnist

    cnn, vae = models
    fitted = fitprior.fit(vae, load_mnist(tiny_mnist, train=True), 3)
    assert fitted.config.prior_components == 3
    plain, mixed = (generate_many([parse("4")], cnn, v, quick(init=init, steps=4))[0] for v in (vae, fitted))
    assert torch.equal(plain.latents, mixed.latents) and torch.equal(plain.images, mixed.images)


def test_the_guide_is_looked_for_again_when_it_was_missing(tmp_path, monkeypatch):
    """A run without assets/guide.pt (the CNN guides itself) does not leave later runs unguided."""
    from digittui import paths
    from digittui.generate import load_guide

    shipped = paths.assets_dir()
    if not (shipped / "guide.pt").is_file():
        pytest.skip("no assets/guide.pt")
    monkeypatch.setattr(paths, "assets_dir", lambda: tmp_path)
    assert load_guide() is None
    monkeypatch.setattr(paths, "assets_dir", lambda: shipped)
    assert load_guide() is not None and load_guide() is load_guide("cpu")
