"""The handwriting distortions: neutral settings leave an image alone, and each does what it says."""

import torch

from digittui import distort, outliers


def _bar(width: int = 3) -> torch.Tensor:
    """One image [1, 1, 28, 28]: a vertical bar `width` pixels wide in the middle."""
    x = torch.zeros(1, 1, 28, 28)
    x[..., 6:22, 14 - width // 2:14 - width // 2 + width] = 1.0
    return x


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_neutral_settings_are_the_identity():
    x = _bar()
    zero = torch.zeros(1)
    assert torch.allclose(distort.thickness(x, zero), x)
    assert torch.allclose(distort.blur(x, zero), x, atol=1e-5)
    assert torch.allclose(distort.low_resolution(x, torch.tensor([28])), x)
    assert torch.allclose(distort.slant(x, zero), x, atol=1e-5)
    assert torch.allclose(distort.elastic(x, zero, _g()), x, atol=1e-5)
    assert torch.equal(distort.noise(x, zero, _g()), x)
    assert torch.equal(distort.broken_strokes(x, zero, _g()), x)
    assert torch.equal(distort.outline(x, torch.zeros(1, dtype=torch.bool)), x)
    assert torch.equal(distort.ruled_lines(x, zero, zero, torch.ones(1)), x)


def test_thickness_thins_and_thickens():
    x = _bar()
    ink = lambda a: float(distort.thickness(x, torch.tensor([a])).sum())  # noqa: E731
    assert ink(-1.0) < ink(-0.5) < float(x.sum()) < ink(1.0) < ink(2.0)
    assert float(distort.thickness(x, torch.tensor([-1.0])).amax()) == 1.0  # a 3-pixel bar survives


def test_low_resolution_and_blur_spread_the_ink():
    x = _bar()
    for y in (distort.low_resolution(x, torch.tensor([8])), distort.blur(x, torch.tensor([1.5]))):
        assert (y > 0.05).sum() > (x > 0.05).sum() and y.amax() < 1.0


def test_slant_shears_the_bar_and_cuts_break_it():
    x = _bar(1)
    slanted = distort.slant(x, torch.tensor([0.5]))[0, 0]
    top, bottom = slanted[7].argmax(), slanted[20].argmax()
    assert abs(int(top) - int(bottom)) >= 4
    broken = distort.broken_strokes(_bar(), torch.tensor([3]), _g())
    assert broken.sum() < x.sum() * 3 and (broken <= _bar()).all()


def test_outline_hollows_the_stroke():
    hollow = distort.outline(_bar(5), torch.ones(1, dtype=torch.bool))[0, 0]
    assert hollow[14, 14] == 0  # the middle of the 5-pixel bar is empty
    assert hollow[14, 11] == 1 and hollow[14, 17] == 1  # its edges are ink, at full strength
    assert hollow[14, 12] == 0 and hollow[2, 14] == 0  # nothing inside, nothing far away


def test_ruled_lines_lie_under_the_ink():
    paper = distort.ruled_lines(_bar(), torch.tensor([7]), torch.tensor([3]), torch.tensor([0.4]))[0, 0]
    lined = [r for r in range(28) if abs(float(paper[r, 0]) - 0.4) < 1e-6]
    assert lined == [4, 11, 18, 25]  # rows where row + offset is a multiple of the spacing
    assert (paper[6:22, 13:16] == 1).all()  # the bar's ink wins where a line crosses it


def test_wild_keeps_shape_range_and_device_independence_of_draws():
    x = _bar().repeat(16, 1, 1, 1)
    y = distort.wild(x, _g(1))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert torch.equal(y, distort.wild(x, _g(1)))  # same seed, same images
    assert not torch.equal(y, distort.wild(x, _g(2)))


def test_outliers_never_touch_the_spare_units():
    logits = torch.randn(4, 16, generator=_g()).requires_grad_()
    outliers.uniform_loss(logits[:, :10]).backward()
    assert logits.grad[:, :10].abs().sum() > 0 and logits.grad[:, 10:].abs().sum() == 0
    s = outliers.scribbles(8, _g(), "cpu")
    assert s.shape == (8, 1, 28, 28) and (s.amax((1, 2, 3)) > 0.9).all()


def test_stroke_width_reaches_both_ends_of_its_range():
    amount = distort._stroke_width(torch.rand(3000, generator=_g(1)), torch.rand(3000, generator=_g(2)))
    assert amount.min() == -1 and amount.max() == 2
    # whole levels: an erosion a sixth of the time and two dilations a sixth, not a blend's ~0%
    assert 0.12 < (amount == -1).float().mean() < 0.22 and 0.12 < (amount == 2).float().mean() < 0.22
