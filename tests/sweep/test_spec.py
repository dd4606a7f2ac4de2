"""Sweep files: what a grid, variants, repeats and a search expand to, and one clear line for
each malformed file (no Lightning involved: these checks run before anything is parsed)."""

import pytest

from lightcnn.errors import LightCNNError
from lightcnn.sweep.spec import read_sweep, to_args
from tests.conftest import REPO

BASE = REPO / "configs" / "mnist_fast.yaml"


def sweep(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(f"base: {BASE}\n" + text)
    return path


def test_grid_is_the_product_named_by_values_in_order(tmp_path):
    spec = read_sweep(sweep(tmp_path, "grid:\n  model.backbone: [mnist_cnn, convnet, timm/resnet18]\n"
                                      "  data.augment: {none: null, flip: [{name: hflip}]}\n"))
    assert [p.label for p in spec.plans] == ["mnist_cnn-none", "mnist_cnn-flip", "convnet-none", "convnet-flip",
                                             "resnet18-none", "resnet18-flip"]
    assert spec.plans[1].overrides == {"model.backbone": "mnist_cnn", "data.augment": [{"name": "hflip"}]}
    assert spec.plans[4].overrides["model.backbone"] == "timm/resnet18"  # the value, not its folder name
    assert spec.plans[1].params == {"model.backbone": "mnist_cnn", "data.augment": "flip"}
    assert spec.folder.as_posix() == "runs/s" and spec.name == "s"


def test_home_folder_paths_in_a_sweep_file_are_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "mine.yaml").write_text(BASE.read_text())
    path = tmp_path / "s.yaml"
    path.write_text("base: ~/mine.yaml\nroot: ~/sweeps\nvariants:\n  a: {}\n  b: {base: ~/mine.yaml}\n")
    spec = read_sweep(path)
    assert spec.base == tmp_path / "home" / "mine.yaml" and spec.plans[1].base == spec.base
    assert spec.folder == tmp_path / "home" / "sweeps" / "s"


def test_variants_with_repeats_give_one_trial_per_seed(tmp_path):
    spec = read_sweep(sweep(tmp_path, "repeats: 3\nseed: 7\nvariants:\n  base: {}\n  deeper: {model.backbone_args.depth: 4}\n"))
    assert [p.key for p in spec.plans] == ["base/seed_7", "base/seed_8", "base/seed_9", "deeper/seed_7", "deeper/seed_8", "deeper/seed_9"]
    assert spec.plans[3].overrides == {"model.backbone_args.depth": 4} and spec.plans[3].seed == 7
    assert spec.test and spec.metric is None and spec.mode == "variants"


def test_search_space_parses_each_kind(tmp_path):
    spec = read_sweep(sweep(tmp_path, "search:\n  trials: 5\n  sampler: {name: random, seed: 3}\n  pruner: none\n  space:\n"
                                      "    model.lr: {type: float, low: 1e-4, high: 1.0e-2, log: true}\n"
                                      "    model.backbone_args.width: {type: int, low: 8, high: 32, step: 8}\n"
                                      "    data.augment: {type: categorical, choices: {none: null, flip: [{name: hflip}]}}\n"))
    lr, width, augment = spec.search.params
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 1e-2, True)  # YAML's 1e-4 is text: read as a number
    assert (width.kind, width.step, width.examples()) == ("int", 8, [8, 32])
    assert augment.choices == (("none", None), ("flip", [{"name": "hflip"}]))
    assert type(spec.search.sampler).__name__ == "RandomSampler" and type(spec.search.pruner).__name__ == "NopPruner"
    assert spec.search.trials == 5 and not spec.test  # a search stops at validation unless asked


def test_overrides_become_command_line_options():
    assert to_args({"model.lr": 0.1, "data.augment": None, "model.backbone": "convnet", "data.classes": [1, 2]}) == [
        "--model.lr", "0.1", "--data.augment", "null", "--model.backbone", "convnet", "--data.classes", "[1, 2]"]


@pytest.mark.parametrize("text, message", [
    ("variants:\n  a: {}\n  a: {model.lr: 0.1}\n", "'a' is given twice"),
    ("variants:\n  a: {model lr: 0.1}\n", "'model lr' is not a config key"),
    ("variants:\n  ../up: {}\n", "variant '../up': name it with letters"),
    ("grid:\n  model.lr: []\n", "grid.model.lr: give a non-empty list"),
    ("grid:\n  model.lr: [0.1, 0.1]\n", "two values are named '0.1'"),
    ("variants: {a: {}}\ngrid: {model.lr: [1]}\n", "exactly one of 'variants', 'grid', 'search' (found variants, grid)"),
    ("variants: {a: {}}\nrepeat: 2\n", "unknown key 'repeat'"),
    ("variants: {a: {}}\nrepeats: 0\n", "repeats: 0: give an integer >= 1"),
    ("variants: {a: {}}\nroot: 5\n", "root 5: give the folder sweeps go in"),
    ("variants: {a: {}}\nname: a/b\n", "name 'a/b': use letters"),
    ("variants: {a: {}}\ndirection: up\n", "direction 'up': use maximize or minimize"),
    ("variants: {a: {}}\nmetric: test/acc\ntest: false\n", "metric test/acc needs test: true"),
    ("search: {trials: 2, space: {model.lr: {type: float, low: 0.1, high: 0.01}}}\n", "low must be below high (got low 0.1, high 0.01)"),
    ("search: {trials: 2, space: {model.lr: {type: float, low: 0, high: 1, log: true}}}\n", "a log distribution needs low > 0"),
    ("search: {trials: 2, space: {model.lr: {type: gauss, low: 0, high: 1}}}\n", "model.lr: give {type: float|int|categorical"),
    ("search: {trials: 2, space: {model.lr: {type: int, low: 1.5, high: 4}}}\n", "low 1.5: give an integer"),
    ("search: {trials: 2, space: {model.lr: {type: float, low: 0.1, high: 1, choices: [1]}}}\n", "'choices' does not apply to a float"),
    ("search: {trials: 2, sampler: annealing, space: {model.lr: [0.1, 0.2]}}\n", "unknown sampler 'annealing'; choose one of tpe"),
    ("search: {trials: 2, pruner: {name: median, patience: 3}, space: {model.lr: [0.1]}}\n", "search.pruner: median:"),
    ("search: {trials: 0, space: {model.lr: [0.1]}}\n", "search.trials: 0: give an integer >= 1"),
    ("search: {trials: 2, space: {model.lr: [0.1]}}\nrepeats: 2\n", "repeats applies to variants and grids"),
    ("variants: {a: {}}\nreference: {source: nb, metric: test/acc, values: {b: 0.5}}\n", "reference.values: no variant 'b'; the variants are a"),
    ("variants: {a: {}}\nreference: {source: nb, metric: acc, values: {a: 0.5}}\n", "reference.metric 'acc': give a logged metric"),
    ("variants: {a: {}}\nreference: {source: nb, metric: test/acc, values: {a: high}}\n", "reference.values.a: 'high': give a number, or null"),
    ("variants: {a: {}}\nreference: {metric: test/acc, values: {a: 0.5}}\n", "reference: give source (text), metric"),
    ("variants: {a: {base: nowhere.yaml}}\n", "variant 'a': base nowhere.yaml: no such config file"),
    ("search: {trials: 2, space: {model.lr: [0.1]}}\nreference: {source: nb, metric: test/acc, values: {a: 1}}\n",
     "reference compares named variants; a search has none"),
    # `key:value` with no space after the colon is one string to YAML
    ("grid:\n  model.lr: [0.1]\n  model.optimizer:[adam, sgd]\n", "s.yaml:4: 'model.optimizer:[adam, sgd]' is one string to YAML"),
    ("search:\n  trials:4\n", "give trials, space and optionally sampler and pruner (YAML needs a space after ':': 'trials: 4')"),
    ("variants:\n  a: {model.lr:0.01}\n", "'model.lr:0.01' is not a config key; use the CLI's dotted keys, e.g. model.backbone_args.depth "
                                          "(YAML needs a space after ':': 'model.lr: 0.01')"),
    ("search: {trials: 2, space: {model.lr:0.1: [0.1]}}\n", "(YAML needs a space after ':': 'model.lr: 0.1')"),
])
def test_malformed_sweep_files_are_one_line_naming_the_key(tmp_path, text, message):
    with pytest.raises(LightCNNError) as err:
        read_sweep(sweep(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(tmp_path / "s.yaml") in str(err.value)


def test_a_run_config_given_as_a_sweep_file_says_so(tmp_path):
    with pytest.raises(LightCNNError, match="this is a lightcnn run config, not a sweep file; a sweep file names it as its base"):
        read_sweep(BASE)


def test_missing_base_and_missing_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("base: nowhere.yaml\nvariants: {a: {}}\n")
    with pytest.raises(LightCNNError, match="base nowhere.yaml: no such config file"):
        read_sweep(path)
    with pytest.raises(LightCNNError, match="no such sweep file"):
        read_sweep(tmp_path / "absent.yaml")


def test_variant_bases_merge_keys_reference_and_only(tmp_path):
    from lightcnn.sweep.spec import only_variants

    path = sweep(tmp_path, f"""variants:
  a: &shared {{model.lr: 0.1, trainer.max_epochs: 2}}
  b: {{<<: *shared, model.lr: 0.2}}
  best: {{base: {REPO / "configs" / "mnist_best.yaml"}}}
reference: {{source: "notebook 9", metric: test/acc, values: {{a: 0.5, b: null}}, note: "n"}}
""")
    spec = read_sweep(path)
    assert [p.overrides for p in spec.plans] == [{"model.lr": 0.1, "trainer.max_epochs": 2}, {"model.lr": 0.2, "trainer.max_epochs": 2}, {}]
    assert spec.plans[2].base == REPO / "configs" / "mnist_best.yaml" and spec.plans[0].base is None
    assert spec.reference.values == {"a": 0.5, "b": None} and spec.reference.source == "notebook 9"
    assert [p.label for p in only_variants(spec, "best, a").plans] == ["a", "best"]
    with pytest.raises(LightCNNError, match=r"--only a,c: no variant c in .*; its variants: a, b, best"):
        only_variants(spec, "a,c")
