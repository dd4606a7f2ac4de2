"""YAML as lightcnn reads the files users write (run configs, sweep files): PyYAML's safe loader,
but a key given twice in one mapping is an error. PyYAML, and jsonargparse through it, keep the
last one silently: a config with two ``trainer:`` sections, or ``lr:`` twice, would drop the
first without a word."""

from __future__ import annotations

from typing import Any

import yaml


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key given twice in one mapping; ``problem_mark`` is the second one."""


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (merge keys ``<<: *anchor``
    excepted: keys merged from an anchor may be overridden, as YAML intends)."""


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable (complex) key: PyYAML itself refuses it below
            continue
        if first is not None:
            raise DuplicateKeyError(None, None, f"'{key}' is given twice in one mapping (first on line {first.line + 1})",
                                    key_node.start_mark)
        seen[key] = key_node.start_mark
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_unique_keys(text: str) -> Any:
    """``yaml.safe_load(text)``, refusing repeated keys.

    Raises:
        yaml.YAMLError: broken YAML; ``DuplicateKeyError`` for a key given twice.
    """
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
