"""Fuzzing, bounded: seeded random mistakes in every shipped config, random and cut bytes as
checkpoints, damaged dataset files. Every mutation is invalid by construction, so each must end
the way the catalogue's cases do: exit 2, one ``lightcnn: error:`` line, no traceback, nothing
half-written and no run folder left. ``LIGHTCNN_FUZZ_SEED=N`` draws another set.
"""

from __future__ import annotations

import gzip
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lightcnn.cli import main
from tests.conftest import REPO, write_cifar_layout, write_image_folder
from tests.test_bad_inputs import assert_explained, trained_checkpoint

SEED = int(os.environ.get("LIGHTCNN_FUZZ_SEED", "20261129"))
RUN_CONFIGS = sorted(p for p in (REPO / "configs").glob("*.yaml"))
QUICK = ["--data.root", "data", "--data.download", "false", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
         "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def paths(tree: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path (tuples of keys / list positions) of a loaded YAML tree."""
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += [(*prefix, k), *paths(v, (*prefix, k))]
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += paths(v, (*prefix, i))
    return out


def at(tree: object, path: tuple) -> object:
    for k in path:
        tree = tree[k]  # type: ignore[index]
    return tree


def mutate(config: dict, rng: random.Random) -> tuple[dict, str]:
    """One invalid change: a misspelt key, or a value of a type no option of that name takes."""
    keys = [p for p in paths(config) if isinstance(p[-1], str) and p[0] in ("model", "data", "trainer")]
    path = rng.choice(keys)
    parent, key = at(config, path[:-1]), path[-1]
    value = parent[key]
    if rng.random() < 0.5 or isinstance(value, (dict, list)) and key != "augment":
        typo = key[:-1] + rng.choice("qxz") + key[-1] if len(key) > 2 else key + "q"
        if key in ("class_path", "init_args") or typo in parent:
            typo = key + "_q"
        parent[typo] = parent.pop(key)
        return config, f"key {'.'.join(map(str, path))} -> {typo}"
    if isinstance(value, bool) or value is None:
        parent[key] = {"not": ["a", "value"]}
    elif isinstance(value, (int, float)):
        parent[key] = rng.choice(["many", "0x1p3q", {"n": 1}])
    elif isinstance(value, str):
        parent[key] = {"nested": [rng.randint(0, 9)]} if key != "root" else [1, 2]
    else:  # an augmentation list
        parent[key] = [{"name": "no_such_step_" + str(rng.randint(0, 99))}]
    return config, f"value {'.'.join(map(str, path))}: {value!r} -> {parent[key]!r}"


def config_cases(rng: random.Random) -> dict[str, Callable[[], list[str]]]:
    cases = {}
    for config_file in RUN_CONFIGS:
        for _ in range(2):
            config, what = mutate(yaml.safe_load(config_file.read_text()), rng)

            def build(config=config) -> list[str]:
                Path("mutated.yaml").write_text(yaml.safe_dump(config))
                return ["fit", "--config", "mutated.yaml", *QUICK]
            cases[f"{config_file.stem}: {what}"] = build
    return cases


def random_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def checkpoint_cases(rng: random.Random) -> dict[str, Callable[[], list[str]]]:
    cases = {}
    for command in ("test", "predict", "embed", "knn", "visualize", "export"):
        kind = rng.choice(["random", "cut"])
        size, cut = rng.randint(1, 6000), rng.random()

        def build(command=command, kind=kind, size=size, cut=cut) -> list[str]:
            if kind == "random":
                Path("x.ckpt").write_bytes(random_bytes(rng, size))
            else:
                whole = trained_checkpoint().read_bytes()
                Path("x.ckpt").write_bytes(whole[: int(cut * (len(whole) - 1))])
            if command in ("test", "predict"):
                return [command, "--config", str(REPO / "configs" / "mnist_classify.yaml"), *QUICK[:4], "--ckpt_path", "x.ckpt"]
            return [command, "--ckpt", "x.ckpt", "--config", str(REPO / "configs" / "mnist_classify.yaml"),
                    *(["--index", "0"] if command == "visualize" else [])]
        cases[f"{command}: {kind} checkpoint"] = build
    return cases


def damage(path: Path, rng: random.Random, header: int) -> str:
    """Cut the file, replace it with random bytes, or change a byte of its ``header`` bytes."""
    data = path.read_bytes()
    kind = rng.choice(["cut", "random", "header"] if header else ["cut", "random"])
    if kind == "cut":
        path.write_bytes(data[: rng.randint(0, len(data) - 1)])
    elif kind == "random":
        path.write_bytes(random_bytes(rng, rng.randint(1, 3000)))
    else:
        i = rng.randrange(header)
        path.write_bytes(data[:i] + bytes([(data[i] + rng.randint(1, 255)) % 256]) + data[i + 1:])
    return kind


def dataset_cases(rng: random.Random) -> dict[str, Callable[[], list[str]]]:
    mnist = str(REPO / "configs" / "mnist_classify.yaml")
    cases = {}
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "train-images-idx3-ubyte.gz"):
        seed = rng.random()

        def build(name=name, seed=seed) -> list[str]:
            raw = Path("data/MNIST/raw")
            if name.endswith(".gz"):
                plain = raw / name.removesuffix(".gz")
                (raw / name).write_bytes(gzip.compress(plain.read_bytes()))
                plain.unlink()
            damage(raw / name, random.Random(seed), header=0 if name.endswith(".gz") else (16 if "images" in name else 8))
            return ["test" if name.startswith("t10k") else "fit", "--config", mnist, *QUICK[:4],
                    *(["--ckpt_path", str(trained_checkpoint())] if name.startswith("t10k") else QUICK[4:])]
        cases[f"MNIST {name} damaged"] = build
    for name in ("data_batch_1", "test_batch"):  # (batches.meta is not read: the class names are known)
        seed = rng.random()

        def build(name=name, seed=seed) -> list[str]:
            write_cifar_layout(Path("data"))
            config = str(REPO / "configs" / "cifar10_base.yaml")
            if name == "test_batch":  # read by test only: damage it under a trained checkpoint
                assert main(["fit", "--config", config, *QUICK, "--data.val_size", "0.2", "--name", "trained_cifar"]) == 0
            damage(Path("data/cifar-10-batches-py") / name, random.Random(seed), header=0)
            if name == "test_batch":
                return ["test", "--config", config, *QUICK[:4], "--ckpt_path", "runs/trained_cifar/version_0/checkpoints/last.ckpt"]
            return ["fit", "--config", config, *QUICK, "--data.val_size", "0.2"]
        cases[f"CIFAR {name} damaged"] = build
    seed = rng.random()

    def image(seed=seed) -> list[str]:
        root = write_image_folder(Path("imgs"), {"cat": 4, "dog": 4})
        Path(root / "dog" / "img_02.png").write_bytes(random_bytes(random.Random(seed), 500))
        return ["fit", "--config", mnist, *QUICK, "--data", "ImageFolderDataModule", "--data.root", "imgs",
                "--data.image_size", "28", "--data.grayscale", "true", "--data.split", "[0.5, 0.25, 0.25]"]
    cases["image folder: random bytes as an image"] = image
    return cases


_rng = random.Random(SEED)
CASES = {**config_cases(_rng), **checkpoint_cases(_rng), **dataset_cases(_rng)}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_fuzzed_input_is_one_clear_line(case, tmp_path, monkeypatch, capsys):
    assert_explained(tmp_path, monkeypatch, capsys, CASES[case], ["lightcnn: error:"])
