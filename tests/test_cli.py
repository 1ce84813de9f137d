"""The CLI: user errors print a message (no traceback) and exit non-zero; JSON output is parseable."""

import json
import os
import subprocess
import sys

import pytest
import torch

from digittui import checkpoints
from digittui.cli import main
from digittui.models import CNN, VAE, CNNConfig, VAEConfig


def run_cli(*args, env=None):
    """The CLI as a user runs it, in a subprocess: exit code and both streams."""
    return subprocess.run([sys.executable, "-m", "digittui", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_the_command_line_is_parsed_without_importing_torch():
    """Every `digittui` run, the TUI's included, builds the whole parser first: importing torch there
    would cost ~2 s before the first frame (and before --help)."""
    code = ("import sys; from digittui.cli import build_parser; build_parser().parse_args(['generate', '7']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_piped_messages_stay_on_one_line():
    """Scripts grep logs: rich must not wrap a message at 80 columns when no terminal is attached."""
    proc = run_cli("generate", "12")
    assert proc.returncode == 1
    message = proc.stderr.strip()
    assert len(message) > 80 and "\n" not in message and "class:12" in message


def test_missing_data_is_a_message_not_a_traceback(tmp_path):
    # No files, and offline whatever this machine's network: every request goes to a proxy on a
    # port where nothing listens, so torchvision's download fails and we must explain.
    offline = {name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    env = dict(os.environ, DIGITTUI_DATA=str(tmp_path / "empty"), no_proxy="", NO_PROXY="", **offline)
    proc = run_cli("train", "cnn", "--epochs", "1", "--device", "cpu", env=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "--data-dir" in proc.stderr and "download failed" in proc.stderr


@pytest.mark.parametrize("args", [
    ["train", "cnn", "--epochs", "0"], ["train", "cnn", "--epochs", "-3"], ["train", "cnn", "--epochs", "x"],
    ["train", "cnn", "--batch-size", "99999999999"], ["train", "cnn", "--lr", "nan"],
    ["train", "cnn", "--lr", "-1"], ["train", "gan"],
])
def test_bad_numbers_exit_2_with_usage(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_unavailable_required_device_errors(capsys, tiny_mnist):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "cnn", "--device", "cuda", "--require-device", "--data-dir", str(tiny_mnist)]) == 1
    assert "not available" in capsys.readouterr().err


def _tiny_checkpoints(tmp_path):
    torch.manual_seed(0)
    cnn = checkpoints.save(tmp_path / "cnn.pt", "cnn", CNN(CNNConfig(conv1=8, conv2=8, conv3=8, hidden=16)))
    vae = checkpoints.save(tmp_path / "vae.pt", "vae", VAE(VAEConfig(latent_dim=4, channels=8, hidden=32)))
    return cnn, vae


def test_evaluate_json(tmp_path, tiny_mnist, capsys):
    cnn, vae = _tiny_checkpoints(tmp_path)
    assert main(["evaluate", "--json", "--cnn", str(cnn), "--vae", str(vae), "--data-dir", str(tiny_mnist),
                 "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0 <= result["cnn_test_accuracy"] <= 1 and result["vae_test_loss"] > 0
    assert result["test_images"] == 64 and result["cnn_source"] == "given"


def test_corrupt_checkpoint_is_named(tmp_path, tiny_mnist, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    assert main(["evaluate", "--cnn", str(bad), "--data-dir", str(tiny_mnist)]) == 1
    assert str(bad) in capsys.readouterr().err


def test_generation_decides_with_the_shipped_decider(tmp_path, monkeypatch, capsys):
    """Shipped weights: `generate` takes assets/decider.pt, not assets/cnn.pt (told apart here by their
    output units: only the decider has a unit 11); `checkpoint info` names the three in use."""
    _, vae = _tiny_checkpoints(tmp_path)
    small = dict(conv1=8, conv2=8, conv3=8, hidden=16)
    checkpoints.save(tmp_path / "cnn.pt", "cnn", CNN(CNNConfig(**small, num_outputs=10)))
    checkpoints.save(tmp_path / "decider.pt", "cnn", CNN(CNNConfig(**small, num_outputs=12)))
    monkeypatch.setattr("digittui.paths.assets_dir", lambda: tmp_path)
    args = ["--count", "1", "--steps", "1", "--device", "cpu", "--json"]
    assert main(["generate", "class:11", *args]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["spec"] == "class:11"
    assert main(["generate", "class:11", *args, "--cnn", str(tmp_path / "cnn.pt")]) == 1  # 10 units: no class 11
    capsys.readouterr()
    assert main(["checkpoint", "info", "--json"]) == 0
    files = [json.loads(line)["file"] for line in capsys.readouterr().out.splitlines()]
    assert files == [str(tmp_path / name) for name in ("cnn.pt", "vae.pt", "decider.pt")]


def test_classify_reports_each_file(tmp_path, capsys):
    from PIL import Image

    cnn, _ = _tiny_checkpoints(tmp_path)
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    img = Image.new("L", (40, 40), 255)
    img.paste(0, (15, 5, 25, 35))
    img.save(tmp_path / "one.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    code = main(["classify", "--json", "--cnn", str(cnn), str(tmp_path / "one.png"), str(tmp_path / "blank.png"),
                 str(tmp_path / "broken.png")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # one file failed
    assert lines[0]["file"].endswith("one.png") and 0 <= lines[0]["digit"] <= 9
    assert len(lines[0]["probs"]) == 10 and lines[0]["digits"][0]["box"] == [15, 5, 25, 35]
    assert lines[1]["verdict"] == "not a digit (blank)" and lines[1]["digits"] == []
    assert "not an image" in lines[2]["error"] and "broken.png" in lines[2]["error"]


def test_train_keeps_a_run_by_default_and_leaves_the_weights_in_use(tmp_path, tiny_mnist, capsys):
    assert main(["train", "cnn", "--epochs", "1", "--batch-size", "64", "--data-dir", str(tiny_mnist),
                 "--device", "cpu", "--json"]) == 0
    out, err = capsys.readouterr()
    epoch = json.loads(out.splitlines()[-1])
    assert epoch["epoch"] == 1 and "test_accuracy" in epoch and epoch["best"] is True
    assert checkpoints.find("cnn")[1] == "shipped"  # never switched silently
    assert "digittui checkpoint use cnn-" in err


from hypothesis import given, settings, strategies as st  # noqa: E402

from digittui.cli.common import non_negative_float, positive_float, positive_int  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), st.integers().map(str), st.floats().map(str)))
def test_numeric_options_accept_only_sane_numbers(text):
    """Counts, steps and epochs: any text is either a sane number or an argparse error, never a crash."""
    import argparse

    for parse, ok in ((positive_int, lambda v: 1 <= v <= 10_000_000),
                      (positive_float, lambda v: v > 0 and v == v and v != float("inf")),
                      (non_negative_float, lambda v: v >= 0 and v == v and v != float("inf"))):
        try:
            value = parse(text)
        except argparse.ArgumentTypeError as exc:
            assert str(exc)
        else:
            assert ok(value)


def test_checkpoint_prior_writes_a_vae_with_a_fitted_prior_and_says_what_it_bought(tmp_path, tiny_mnist, capsys):
    from tests.test_fitprior import offset_vae

    src = checkpoints.save(tmp_path / "vae.pt", "vae", offset_vae(), epoch=3,
                           metrics={"test_loss": 500.0}, train={"epochs": 3})
    before = src.read_bytes()
    args = ["checkpoint", "prior", str(src), str(tmp_path / "fitted.pt"), "--components", "4", "--holdout", "56",
            "--data-dir", str(tiny_mnist), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    fitted = checkpoints.load(tmp_path / "fitted.pt", "vae")
    assert fitted.model.config.prior_components == 4 and fitted.epoch == 3 and fitted.resume is None
    assert fitted.train == {"epochs": 3, "prior": {k: report[k] for k in fitted.train["prior"]}}
    assert report["fitted_on"] == 200 and report["components"] == 4
    assert report["test_loss"] == fitted.metrics["test_loss"] and report["test_loss_before"] == 500.0
    assert report["holdout_loss"] < report["holdout_loss_before"]  # a fitted prior beats N(0, I) on unseen images
    assert src.read_bytes() == before


def test_checkpoint_prior_never_writes_over_its_source(tmp_path, tiny_mnist, capsys):
    src = checkpoints.save(tmp_path / "vae.pt", "vae", VAE(VAEConfig(latent_dim=2, channels=4, hidden=16)))
    before = src.read_bytes()
    assert main(["checkpoint", "prior", str(src), str(tmp_path / "." / "vae.pt"), "--data-dir", str(tiny_mnist)]) == 1
    assert "is SRC" in capsys.readouterr().err and src.read_bytes() == before
