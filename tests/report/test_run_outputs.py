"""Reports, predictions, visualisations and comparisons from one tiny trained MNIST run."""

from __future__ import annotations

import base64
import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from lightcnn.cli import main
from lightcnn.data.idx import read_idx
from tests.conftest import write_idx, write_mnist_layout, tiny_fit_args

AUGMENT = ["--data.init_args.augment", "[{name: rotation, degrees: 10}]"]


def mnist_with_wrong_test_labels(root: Path) -> Path:
    """The tiny synthetic MNIST, with every 5th test label moved to the next class, so that even a
    perfect model makes mistakes for the report to show."""
    write_mnist_layout(root)
    path = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels = read_idx(path).copy()
    labels[::5] = (labels[::5] + 1) % 10
    write_idx(path, labels)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A 3-epoch augmented fit, then ``test --ckpt_path best``; returns the run folder and the args."""
    tmp = tmp_path_factory.mktemp("run")
    args = [*tiny_fit_args(mnist_with_wrong_test_labels(tmp / "data"), tmp / "runs", epochs=3), *AUGMENT]
    assert main(["fit", *args]) == 0
    run = tmp / "runs" / "mnist_classify" / "version_0"
    after_fit = (run / "report.md").read_text()
    assert "## Validation (last epoch): per-class precision" in after_fit and "## Test" not in after_fit
    assert main(["test", *args, "--ckpt_path", "best"]) == 0
    return run, args


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def is_png(data: bytes) -> bool:
    Image.open(io.BytesIO(data)).verify()  # raises on a broken file
    return data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_report_holds_every_element(trained):
    run, _ = trained
    md = (run / "report.md").read_text()
    for heading in ("## Summary", "## Training curves", "## Overfitting", "## Per epoch",
                    "## Validation (last epoch): per-class precision", "## Test: per-class precision, recall, F1",
                    "### Test: most confused pairs", "### Test: confusion matrix", "### Test: misclassified images",
                    "## Augmentation preview", "## Resolved config"):
        assert heading in md, heading
    assert "| parameters |" in md and "| FLOPs per image (forward) |" in md and "| mean epoch time (s) |" in md
    assert "best epoch (by val/acc)" in md and "| test/acc |" in md
    info = json.loads((run / "run_info.json").read_text())
    assert info["params"] > 0 and info["flops"] > 0 and info["monitor"] == "val/acc"
    for png in ("curves.png", "val_confusion.png", "test_confusion.png", "test_misclassified.png", "augment_preview.png"):
        assert f"]({png})" in md and is_png((run / png).read_bytes()), png
    rows = [r for r in md.split("## Per epoch")[1].split("##")[0].splitlines() if r.startswith("| ") and r[2].isdigit()]
    assert [r.split(" | ")[0] for r in rows] == ["| 0", "| 1", "| 2"]


@pytest.mark.slow
def test_html_is_self_contained_and_every_image_decodes(trained):
    run, _ = trained
    page = (run / "report.html").read_text()
    parser = _Images()
    parser.feed(page)
    linked = (run / "report.md").read_text().count(".png)")
    assert len(parser.srcs) == linked >= 5  # curves, confusions, misclassified, augmentation
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        assert is_png(base64.b64decode(src.split(",", 1)[1]))


@pytest.mark.slow
def test_report_command_rebuilds_it(trained, capsys):
    run, _ = trained
    before = (run / "report.md").read_text()
    (run / "report.md").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.md").read_text() == before


def test_report_of_a_folder_without_metrics_says_what_is_missing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} has no history.json" in err and "stopped before its first epoch" in err
    assert not (tmp_path / "report.md").exists()


@pytest.mark.slow
def test_predict_writes_a_csv_of_the_test_split_and_of_files(trained, tmp_path):
    run, args = trained
    assert main(["predict", *args, "--ckpt_path", "best"]) == 0
    rows = list(csv.DictReader(open(run / "predictions.csv")))
    assert len(rows) == 100 and [r["input"] for r in rows[:3]] == ["0", "1", "2"]
    assert set(rows[0]) == {"input", "target", "predicted", "probability", "top1", "top1_prob", "top2", "top2_prob", "top3", "top3_prob"}
    assert all(r["predicted"] == r["top1"] and float(r["top1_prob"]) >= float(r["top2_prob"]) for r in rows)
    accuracy = sum(r["predicted"] == r["target"] for r in rows) / len(rows)
    assert accuracy == pytest.approx(json.loads((run / "test_per_class.json").read_text())["accuracy"])

    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(3):
        Image.new("L", (40, 30), 30 * i).save(images / f"digit_{i}.png")
    out = tmp_path / "p.csv"
    assert main(["predict", *args, "--ckpt_path", "best", "--data.init_args.predict_files", f"[{images}]",
                 "--trainer.callbacks+=PredictionCSV", "--trainer.callbacks.top_k=2", f"--trainer.callbacks.path={out}"]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [Path(r["input"]).name for r in rows] == ["digit_0.png", "digit_1.png", "digit_2.png"]
    assert rows[0]["target"] == "" and "top3" not in rows[0] and 0 < float(rows[0]["probability"]) <= 1
    # one glob, not a list: the same three files
    assert main(["predict", *args, "--ckpt_path", "best", "--data.predict_files", f"{images}/digit_*.png",
                 "--trainer.callbacks+=PredictionCSV", f"--trainer.callbacks.path={out}"]) == 0
    assert [Path(r["input"]).name for r in csv.DictReader(open(out))] == ["digit_0.png", "digit_1.png", "digit_2.png"]


@pytest.mark.slow
def test_predict_on_a_file_that_is_not_an_image(trained, tmp_path, capsys):
    _, args = trained
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert main(["predict", *args, "--ckpt_path", "best", "--data.init_args.predict_files", f"[{bad}]"]) == 2
    assert f"cannot read image {bad}" in capsys.readouterr().err


@pytest.mark.slow
def test_visualize_filters_feature_maps_probabilities(trained, tmp_path, capsys):
    run, args = trained
    ckpt = str(run / "checkpoints" / "best.ckpt")
    config = args[args.index("--config") + 1]
    root = args[args.index("--data.root") + 1]
    out = tmp_path / "vis"
    assert main(["visualize", "--ckpt", ckpt, "--config", config, "--data.root", root, "--index", "4", "--out", str(out)]) == 0
    maps = sorted((out / "feature_maps").glob("*.png"))
    assert [m.name.split("_", 1)[0] for m in maps] == ["00", "01", "02"]  # mnist_cnn: three conv layers
    for png in [out / "filters.png", out / "probabilities.png", *maps]:
        assert is_png(png.read_bytes())
    assert "predicted:" in capsys.readouterr().out
    image = tmp_path / "x.png"
    Image.new("RGB", (50, 50), (200, 10, 10)).save(image)
    assert main(["visualize", "--ckpt", ckpt, "--image", str(image), "--out", str(tmp_path / "v2")]) == 0  # stats from the checkpoint
    assert (tmp_path / "v2" / "probabilities.png").is_file()
    text = tmp_path / "x.txt"
    text.write_text("hello")
    assert main(["visualize", "--ckpt", ckpt, "--image", str(text), "--out", str(tmp_path / "v3")]) == 2
    assert f"cannot read image {text}" in capsys.readouterr().err


@pytest.mark.slow
def test_visualize_a_dense_only_backbone_says_so(tmp_path, capsys):
    args = [*tiny_fit_args(write_mnist_layout(tmp_path / "data"), tmp_path / "runs", epochs=1),
            "--model.init_args.backbone", "mlp", "--model.init_args.backbone_args", "null", "--trainer.limit_train_batches", "2"]
    assert main(["fit", *args]) == 0
    ckpt = tmp_path / "runs" / "mnist_classify" / "version_0" / "checkpoints" / "last.ckpt"
    image = tmp_path / "x.png"
    Image.new("L", (28, 28), 128).save(image)
    assert main(["visualize", "--ckpt", str(ckpt), "--image", str(image), "--out", str(tmp_path / "v")]) == 2
    assert "has no Conv2d layers" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


@pytest.mark.slow
def test_compare_two_runs_table_curves_and_config_diff(trained, tmp_path, capsys):
    run, args = trained
    assert main(["fit", *args, "--data.init_args.augment", "null", "--trainer.max_epochs", "2", "--name", "plain"]) == 0
    other = run.parent.parent / "plain" / "version_0"
    assert main(["compare", str(run), str(other), "--out", str(tmp_path / "cmp")]) == 0
    md = (tmp_path / "cmp" / "compare.md").read_text()
    table = md.split("## Summary")[1].split("##")[0]
    assert "| run | task | params | epochs | fit s | train/acc | val/acc | test/acc | overfitting |" in table
    assert "| mnist_classify/version_0 | ClassificationTask |" in table and "| plain/version_0 |" in table
    assert "test/acc only in mnist_classify/version_0" in md  # the second run was never tested
    diff = md.split("## Config differences")[1]
    assert "| data.init_args.augment |" in diff and "| trainer.max_epochs | 3 | 2 |" in diff
    assert "| model.init_args.lr |" not in diff  # equal values are not listed
    assert is_png((tmp_path / "cmp" / "compare_curves.png").read_bytes())
    assert (tmp_path / "cmp" / "compare.html").read_text().count("data:image/png;base64,") == 1
