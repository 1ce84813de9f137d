"""Integration tests on the real MNIST: the shipped weights, the fast recipe, real digit images."""

import json

import numpy as np
import pytest
from PIL import Image

from digittui.cli import main
from digittui.paths import shipped_checkpoint

pytestmark = pytest.mark.mnist


def test_shipped_weights_meet_their_targets(mnist_dir, capsys):
    """Shipped CNN >= 99.6% test accuracy, shipped VAE <= 92 nats per image (negative ELBO, z sampled)."""
    if not shipped_checkpoint("cnn").is_file():
        pytest.fail("assets/cnn.pt is missing")
    assert main(["evaluate", "--json", "--data-dir", str(mnist_dir), "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cnn_source"] == result["vae_source"] == "shipped"
    assert result["test_images"] == 10_000
    assert result["cnn_test_accuracy"] >= 0.996
    assert result["vae_test_loss"] <= 92.0


@pytest.mark.slow  # the whole default recipe on the real MNIST
def test_default_recipe_reaches_99_percent(mnist_dir, tmp_path, capsys):
    """`digittui train cnn` with its defaults: >= 99.0% (its wall time is measured by benchmarks/)."""
    assert main(["train", "cnn", "--data-dir", str(mnist_dir), "--device", "cpu", "--json",
                 "--output", str(tmp_path / "cnn.pt")]) == 0
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["epoch"] == 2 and last["test_accuracy"] >= 0.99


def test_classify_real_digits_drawn_dark_on_light(mnist_dir, tmp_path, capsys):
    """Test-set digits saved as large dark-on-light PNGs come back as their labels."""
    from digittui.data import load_mnist

    test = load_mnist(mnist_dir, train=False)
    files, labels = [], []
    for i in range(0, 2000, 40):  # 50 digits from across the test set
        img = Image.fromarray(255 - test.images[i].numpy()).resize((112, 112), Image.Resampling.BILINEAR)
        padded = Image.new("L", (160, 140), 255)
        padded.paste(img, (30, 10))
        files.append(str(tmp_path / f"{i}.png"))
        padded.save(files[-1])
        labels.append(int(test.labels[i]))
    assert main(["classify", "--json", *files]) == 0
    preds = [json.loads(line)["digit"] for line in capsys.readouterr().out.splitlines()]
    assert np.mean(np.array(preds) == np.array(labels)) >= 0.96
