"""Weights the user can trust: every run is kept (best and last epoch), the weights in use change only
when the user chooses (`checkpoint use`, `train --use`), and `-o` still writes exactly where told."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from digittui import checkpoints, paths, weights
from digittui.cli import main
from digittui.errors import CheckpointError
from digittui.models import CNN

TRAIN = ["--epochs", "2", "--batch-size", "64", "--device", "cpu"]


def _saved_cnn(path, accuracy: float, epoch: int = 1):
    return checkpoints.save(path, "cnn", CNN().eval(), epoch=epoch, metrics={"test_accuracy": accuracy})


def test_which_metric_is_better():
    cnn, vae = weights.METRICS["cnn"], weights.METRICS["vae"]
    assert cnn.better({"test_accuracy": 0.99}, {"test_accuracy": 0.98}) and not cnn.better(
        {"test_accuracy": 0.98}, {"test_accuracy": 0.99})
    assert vae.better({"test_loss": 90.0}, {"test_loss": 95.0}) and not vae.better({"test_loss": 95.0}, {"test_loss": 90.0})
    assert cnn.better({"test_accuracy": 0.5}, None) and not cnn.better({}, None)
    assert cnn.format({"test_accuracy": 0.9931}) == "99.31%" and vae.format({"test_loss": 94.514}) == "94.51 nats"


def test_runs_get_unique_folders_and_readable_labels():
    when = datetime(2026, 1, 2, 3, 4, 5)
    first, second = weights.new_run("cnn", when), weights.new_run("cnn", when)
    assert first.folder != second.folder and first.kind == "cnn"
    assert first.label == "run 01-02 03:04:05" and second.label == "run 01-02 03:04:05 #2"
    assert weights.list_runs() == []  # nothing saved in them yet
    _saved_cnn(first.last, 0.9)
    assert weights.list_runs("cnn") == [first] and weights.list_runs("vae") == []
    second.discard_if_empty()
    assert not second.folder.exists()


def test_the_weights_in_use_are_chosen_else_an_earlier_digittuis_else_shipped(tmp_path):
    assert weights.resolve("cnn") == (paths.shipped_checkpoint("cnn"), "shipped")
    legacy = _saved_cnn(paths.user_checkpoint("cnn"), 0.97)
    assert weights.resolve("cnn") == (legacy, "user-trained")
    run = weights.new_run("cnn", datetime(2026, 1, 2, 3, 4, 5))
    _saved_cnn(run.best, 0.98)
    weights.choose("cnn", run.best)
    assert weights.resolve("cnn") == (run.best.resolve(), "run 01-02 03:04:05")
    weights.choose("cnn", None)
    assert weights.resolve("cnn") == (paths.shipped_checkpoint("cnn"), "shipped")
    assert json.loads(weights.active_file().read_text())["cnn"] == "shipped"
    assert weights.resolve("cnn", explicit=str(legacy)) == (legacy, "given")


def test_generation_decides_with_the_cnn_in_use_but_the_shipped_decider_for_the_shipped_cnn():
    decider = (paths.shipped_checkpoint(weights.DECIDER), "shipped")
    assert weights.resolve_role(weights.DECIDER) == decider
    assert weights.resolve_role("cnn") == (paths.shipped_checkpoint("cnn"), "shipped")
    run = weights.new_run("cnn", datetime(2026, 1, 2, 3, 4, 5))
    _saved_cnn(run.best, 0.98)
    weights.choose("cnn", run.best)
    assert weights.resolve_role(weights.DECIDER) == weights.resolve("cnn") == (run.best.resolve(), "run 01-02 03:04:05")
    given = paths.shipped_checkpoint("cnn")
    assert weights.resolve_role(weights.DECIDER, explicit=given) == (given, "given")
    weights.choose("cnn", None)
    assert weights.resolve_role(weights.DECIDER) == decider
    assert checkpoints.load_default(weights.DECIDER)[0].kind == "cnn"


def test_the_shipped_decider_is_relied_on():
    assert weights.relied_on()[paths.shipped_checkpoint(weights.DECIDER).resolve()] == "generation's shipped decider"


def test_a_damaged_choice_file_is_an_error_that_says_what_to_do():
    weights.active_file().parent.mkdir(parents=True, exist_ok=True)
    weights.active_file().write_text("{not json")
    with pytest.raises(CheckpointError, match="checkpoint use"):
        weights.resolve("cnn")


def test_a_run_in_use_cannot_be_deleted():
    run = weights.new_run("cnn")
    _saved_cnn(run.best, 0.9)
    weights.choose("cnn", run.best)
    with pytest.raises(CheckpointError, match="in use"):
        weights.delete_run(run)
    weights.choose("cnn", None)
    weights.delete_run(run)
    assert not run.folder.exists()


def test_training_keeps_the_best_epoch_and_the_last(tiny_mnist, tmp_path, monkeypatch):
    """Accuracy falls in epoch 2: best.pt keeps epoch 1 (weights only), last.pt epoch 2 (resumable)."""
    from digittui import train as training

    accuracies = iter([0.9, 0.8])
    monkeypatch.setattr(training, "cnn_metrics", lambda model, data: {"test_accuracy": next(accuracies)})
    seen = []
    config = training.TrainConfig(kind="cnn", epochs=2, batch_size=64, device="cpu",
                                  model={"conv1": 8, "conv2": 8, "conv3": 8, "hidden": 16})
    training.train(config, tiny_mnist, tmp_path / "last.pt", best=tmp_path / "best.pt", on_event=seen.append)
    assert [e.best for e in seen if type(e).__name__ == "EpochEnd"] == [True, False]
    best, last = checkpoints.load(tmp_path / "best.pt"), checkpoints.load(tmp_path / "last.pt")
    assert (best.epoch, best.metrics["test_accuracy"], best.resume) == (1, 0.9, None)
    assert (last.epoch, last.metrics["test_accuracy"]) == (2, 0.8) and last.resume is not None


def test_output_writes_exactly_there_and_keeps_no_run(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "mine.pt"
    assert main(["train", "cnn", *TRAIN, "--data-dir", str(tiny_mnist), "-o", str(out)]) == 0
    assert checkpoints.load(out).epoch == 2
    assert weights.list_runs() == [] and not (tmp_path / "best.pt").exists()
    assert checkpoints.find("cnn")[1] == "shipped"


def test_use_switches_at_the_end_and_resume_continues_the_latest_run(tiny_mnist, capsys):
    assert main(["train", "cnn", "--epochs", "1", "--batch-size", "64", "--device", "cpu",
                 "--data-dir", str(tiny_mnist), "--use"]) == 0
    run = weights.latest_run("cnn")
    assert weights.resolve("cnn") == (run.best.resolve(), run.label)
    assert "now the CNN in use" in capsys.readouterr().err
    # --resume without -o: the same run, now to 2 epochs (resuming needs the same options)
    assert main(["train", "cnn", *TRAIN, "--data-dir", str(tiny_mnist), "--resume"]) == 1  # epochs differ
    assert "epochs=1" in capsys.readouterr().err
    assert weights.list_runs("cnn") == [run]


def test_checkpoint_use_list_and_delete(tmp_path, capsys):
    run = weights.new_run("cnn", datetime(2026, 1, 2, 3, 4, 5))
    _saved_cnn(run.best, 0.98)
    _saved_cnn(run.last, 0.97, epoch=2)
    assert main(["checkpoint", "use", run.id]) == 0
    shipped = weights.METRICS["cnn"].format(checkpoints.load(paths.shipped_checkpoint("cnn")).metrics)
    assert f"CNN in use: 98.00%, run 01-02 03:04:05 (was {shipped}, shipped)" in capsys.readouterr().out
    assert main(["checkpoint", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cnn = {r["label"]: r for r in rows if r["kind"] == "cnn"}
    assert cnn["run 01-02 03:04:05"]["active"] and not cnn["shipped"]["active"]
    assert cnn["run 01-02 03:04:05 (last)"]["epoch"] == 2 and cnn["shipped"]["metrics"]["test_accuracy"] > 0.99
    assert main(["checkpoint", "delete", run.id]) == 1  # in use
    assert "in use" in capsys.readouterr().err
    assert main(["checkpoint", "use", str(run.last), "--kind", "vae"]) == 1  # a CNN is not a VAE
    assert main(["checkpoint", "use", "shipped"]) == 0
    assert main(["checkpoint", "delete", run.id]) == 0 and not run.folder.exists()
    other = _saved_cnn(tmp_path / "elsewhere.pt", 0.95)
    assert main(["checkpoint", "use", str(other)]) == 0
    assert weights.resolve("cnn") == (other.resolve(), "elsewhere.pt")
