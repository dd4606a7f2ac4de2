"""YAML as lightcnn reads users' files: a key given twice is refused, with both lines."""

from __future__ import annotations

import pytest
import yaml

from lightcnn.strict_yaml import DuplicateKeyError, load_unique_keys


def test_a_key_given_twice_is_refused_with_both_lines():
    text = "model:\n  init_args:\n    lr: 0.01\n    backbone: mnist_cnn\n    lr: 0.5\n"
    assert yaml.safe_load(text)["model"]["init_args"]["lr"] == 0.5  # what PyYAML does: the first is dropped
    with pytest.raises(DuplicateKeyError, match=r"'lr' is given twice in one mapping \(first on line 3\)") as err:
        load_unique_keys(text)
    assert err.value.problem_mark.line + 1 == 5


def test_the_same_key_in_different_mappings_and_merge_keys_are_fine():
    text = "base: &b {lr: 0.1, width: 2}\na: {lr: 0.2}\nb:\n  <<: *b\n  lr: 0.3\n"
    assert load_unique_keys(text) == {"base": {"lr": 0.1, "width": 2}, "a": {"lr": 0.2}, "b": {"lr": 0.3, "width": 2}}
    assert load_unique_keys("") is None
