"""``key:value`` without the space YAML needs after the colon: found, and only where it is one."""

import pytest

from lightcnn.yaml_spacing import flow_hint, glued_line, space_hint, unglued


@pytest.mark.parametrize("text, fixed", [
    ("max_epochs:1", "max_epochs: 1"),
    ("model.lr:0.01", "model.lr: 0.01"),
    ("monitor:val/acc", "monitor: val/acc"),       # the slash is in the value, not after the colon
    ("name:hflip", "name: hflip"),
    (" backbone:mnist_cnn ", "backbone: mnist_cnn"),
    ("sqlite:///runs/study.db", None),             # URLs and drive letters are not glued keys
    ("postgresql://user@host/db", None),
    ("C:\\data", None),
    ("12:30", None),                               # starts with a digit: a time, not a key
    ("max_epochs: 1", None),
    ("val/acc", None),
    (None, None),
    (3, None),
])
def test_unglued_finds_a_key_value_missing_its_space(text, fixed):
    assert unglued(text) == fixed
    assert space_hint(text) == (f" (YAML needs a space after ':': {fixed!r})" if fixed else "")


def test_flow_hint_respaces_every_pair_of_a_flow_collection():
    assert flow_hint("{depth:4,width:0.5}") == "; YAML needs a space after each ':', as in '{depth: 4,width: 0.5}'"
    assert flow_hint("[{name:hflip}]") == "; YAML needs a space after each ':', as in '[{name: hflip}]'"
    assert flow_hint("{depth: 4}") == "" and flow_hint("depth:4") == "" and flow_hint("sqlite:///x") == ""


def test_glued_line_names_the_line_yaml_stumbled_on_or_the_one_before():
    lines = ["model:", "  init_args:", "    lr:0.1  # the rate", "  class_path: X"]
    expected = "f.yaml:3: 'lr:0.1' is one string to YAML, not a key and a value: write 'lr: 0.1' (YAML needs a space after ':')"
    assert glued_line("f.yaml", lines, 3) == expected   # YAML reports the line after
    assert glued_line("f.yaml", lines, 2) == expected
    assert glued_line("f.yaml", lines, 1) is None
    assert glued_line("f.yaml", ["  - name:hflip"], 0).startswith("f.yaml:1: 'name:hflip'")
