"""Turn jsonargparse's long nested parse errors into one message a user can act on.

jsonargparse reports a bad value inside ``model: {class_path, init_args}`` as a dump of every
Union branch it tried. The useful facts are few: which key, what was given, what is valid. This
module pulls them out, and adds what jsonargparse does not know (registered names, close matches).
"""

from __future__ import annotations

import difflib
import inspect
import re
from pathlib import Path

from lightcnn.cli_args import option_values
from lightcnn.errors import LightCNNError
from lightcnn.yaml_spacing import flow_hint, glued_line, space_hint, unglued
from lightcnn.registry import DATAMODULES, TASKS, Registry

_SECTIONS: dict[str, tuple[str, Registry | None]] = {"model": ("task", TASKS), "data": ("datamodule", DATAMODULES)}


def _init_params(class_path: str) -> list[str]:
    """Constructor parameter names of a class and, through ``**kwargs``, of its bases."""
    import importlib

    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return []
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names += [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return sorted(set(names))


def explain(message: str, config_files: list[str] | None = None) -> str:
    """A short explanation of a jsonargparse error message."""
    where = f" (config: {', '.join(config_files)})" if config_files else ""
    if config_files and (glued := _glued_in(config_files, re.findall(r'Parser key "([^".]+)', message)[:1])):
        return glued
    message = _given_class_branch(message)
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    keys = re.findall(r'Parser key "([^"]+)"', message)
    section = keys[0] if keys else ""
    class_path = re.search(r"Problem with given class_path '([^']+)'", message)
    key = ".".join([section, *keys[1:]]) if section else ""

    if m := re.search(r"^the following arguments are required: ((?:\w+\.)?(?:model|data)\b.*)$", message.strip()):
        missing = [k for k in (k.strip().rpartition(".")[2] for k in m.group(1).split(",")) if k in _SECTIONS]
        what = " and ".join(f"a {_SECTIONS[k][0]} (--{k} NAME: {', '.join(_SECTIONS[k][1] or [])})" for k in missing)
        return (f"no {' and no '.join(_SECTIONS[k][0] for k in missing)} chosen{where}: give a config "
                f"(--config configs/mnist_classify.yaml), or {what}")
    if section in _SECTIONS and (m := re.search(r"does not correspond to a subclass of (\w+)", message)):
        kind, registry = _SECTIONS[section]
        given = re.search(r"Given value: (\S+)", message)
        need = "lightcnn.tasks.BaseTask (plugins/README.md: your own task)" if section == "model" else m.group(1)
        return (f"'{given.group(1) if given else '?'}' for '{section}'{where} is not a {kind}: it must subclass {need}; "
                f"registered: {', '.join(registry or [])}")
    if section in _SECTIONS and class_path and class_path.group(1).rpartition(".")[2] in ("LightningDataModule", "BaseTask") \
            and (m := re.search(r"Option '([^']+)' is not accepted", message)):
        kind, registry = _SECTIONS[section]
        return (f"'{section}.{m.group(1)}'{where} is set but no {kind} is chosen: give a config (--config "
                f"configs/mnist_classify.yaml) or --{section} NAME first ({', '.join(registry or [])})")
    if section in _SECTIONS and class_path and (m := re.search(r"(module '[^']+' has no attribute '[^']+'|No module named '[^']+')", message)):
        kind, registry = _SECTIONS[section]
        return f"unknown {kind} {class_path.group(1)!r} for '{section}'{where}: {m.group(1)}; registered: {', '.join(registry or [])}"
    if section and (m := re.search(r"Unable to load config '([^']*)'", message)):
        given = m.group(1)
        what = (f"no such file {given!r}" if given.endswith((".yaml", ".yml", ".json")) else f"got {given!r}")
        return (f"'--{section}'{where} takes a YAML file or a mapping of its options, e.g. '{{max_epochs: 3}}'; "
                f"{what}{flow_hint(given)}")
    if m := re.search(r"unrecognized arguments: (.+)", message, re.IGNORECASE):
        return f"unknown option {m.group(1).strip()}{where}; `lightcnn fit --help` lists the valid ones"
    if section == "config" and (m := re.search(r"File does not exist: '?([^']+)'?", message)):
        return f"config file not found: {m.group(1)}"
    if class_path and (m := re.search(r"the following arguments are required: ([\w, ]+)", message)):
        owner = class_path.group(1).rpartition(".")[2]
        hint = " (any value: lightcnn points CSV and TensorBoard loggers at the run folder)" if section == "trainer.logger" else ""
        return (f"'{section}': {owner} needs {m.group(1).strip()}{where}; give it in init_args, e.g. "
                f"{{class_path: {owner}, init_args: {{{m.group(1).split(',')[0].strip()}: ...}}}}{hint}")
    if m := re.search(r"Option '([^']+)' is not accepted", message):
        bad = m.group(1)
        valid = _init_params(class_path.group(1)) if class_path else []
        close = difflib.get_close_matches(bad, valid, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        owner = class_path.group(1).rpartition(".")[2] if class_path else section
        options = f"valid options: {', '.join(valid)}" if valid else f"{owner} takes no options"
        return f"unknown key '{section}.{bad}'{where}: {owner} has no option {bad!r}{hint}{space_hint(bad)}\n  {options}"
    if section in _SECTIONS and not class_path and (m := re.search(r"(?:Given value|import path string): (\S+)", message)):
        kind, registry = _SECTIONS[section]
        given = m.group(1)
        names = list(registry) if registry else []
        close = difflib.get_close_matches(given, names, n=3, cutoff=0.4)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return f"unknown {kind} {given!r} for '{section}'{where}; {hint}valid: {', '.join(names)} (or a class_path){flow_hint(given)}"
    inner = message[message.rfind('Parser key "') :] if len(keys) > 1 else message
    if m := re.search(r"Expected a (.+?)\. Got value: (.*)", inner):
        # an augmentation given by its name alone (`augment: [hflip]`): say what an entry looks like
        hint = (f"; an augmentation is a mapping, e.g. {{name: {m.group(2).strip()}}} (`lightcnn list augmentations`)"
                if key.endswith("augment") and _type_name(m.group(1)) == "dict" else "")
        return (f"bad value for '{key}'{where}: got {m.group(2).strip()!r}, expected {_type_name(m.group(1))}{hint}"
                f"{flow_hint(m.group(2).strip())}")
    subtypes, given = re.search(r"Subtypes: \[(.+?)\]\n", inner), re.search(r"Given value: (.*)", inner)
    if subtypes and given and len(keys) > 1:
        options = [_type_name(t) for t in _split_top_level(subtypes.group(1))]
        # one augmentation given without the list around it (`augment: hflip`, `augment: {name: hflip}`)
        hint = ("; it is a list of augmentations, each a mapping: [{name: hflip}, {name: rotation, degrees: 10}] "
                "(`lightcnn list augmentations`)" if key.endswith("augment") else "")
        return (f"bad value for '{key}'{where}: got {given.group(1).strip()!r}, expected {' or '.join(options)}{hint}"
                f"{flow_hint(given.group(1).strip())}")
    detail = [ln for ln in lines if not re.match(r"(Subtypes|Given value|Errors:|- Expected a <class 'NoneType'>|Does not validate)", ln.lstrip("- "))]
    return f"invalid configuration{where} at '{key or section}': " + " | ".join(detail[:6])


def _glued_in(files: list[str], sections: list[str]) -> str:
    """``file:line: ...`` for an unquoted ``key:value`` (no space after the colon) under the
    section an error is about: YAML reads it as one string, so ``max_epochs:1`` under
    ``trainer:`` makes ``trainer`` a string, and the parser's error names neither. Empty when
    there is none (``cuda:0`` elsewhere in a file is left alone: this runs only on an error)."""
    import yaml

    def walk(node, top):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                yield from walk(value, top or key.value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                yield from walk(item, top)
        elif isinstance(node, yaml.ScalarNode) and node.style is None and unglued(node.value):
            yield top, node

    for name in files:
        try:
            root = yaml.compose(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for top, node in walk(root, None):
            if not sections or top in sections:
                return (f"{name}:{node.start_mark.line + 1}: {node.value!r} is one string to YAML, not a key and a value: "
                        f"write {unglued(node.value)!r} (YAML needs a space after ':')")
    return ""


def _given_class_branch(message: str) -> str:
    """The branch of a Union error that is about the class the user named.

    For ``trainer.callbacks`` jsonargparse tries the given class and then the base ``Callback``,
    which accepts no options: a bad *value* of an option the given class has (``logging_interval:
    hour``) comes with a second branch saying the option "is not accepted". Read alone, that
    branch would turn a bad value into an unknown key. When some class_path branches accept the
    option and others do not, only the first that accepts it is kept."""
    parts = re.split(r"\n(\s*)- Problem with given class_path '([^']+)':\n", message)
    head, branches = parts[0], [(parts[i], parts[i + 1], parts[i + 2]) for i in range(1, len(parts) - 2, 3)]
    accepting = [(indent, cp, body) for indent, cp, body in branches if "is not accepted" not in body]
    if len(branches) < 2 or not accepting or len(accepting) == len(branches):
        return message
    indent, cp, body = accepting[0]
    kept = []
    for line in body.splitlines():  # up to the next line as far out as the branch's own "- Problem ..."
        if line.strip() and len(line) - len(line.lstrip()) <= len(indent):
            break
        kept.append(line)
    body = "\n".join(kept)
    return f"{head.splitlines()[0]}\n  - Problem with given class_path '{cp}':\n{body}"


def _split_top_level(text: str) -> list[str]:
    """Split ``"<class 'int'>, typing.Dict[str, typing.Any]"`` at commas outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [p for p in [*parts, cur.strip()] if p]


def _type_name(text: str) -> str:
    """``<class 'int'>`` -> ``int``, ``<class 'NoneType'>`` -> ``null``, ``typing.Literal[...]`` -> ``Literal[...]``."""
    text = re.sub(r"<class '([^']+)'>", r"\1", text).replace("typing.", "")
    return "null" if text == "NoneType" else text


def config_files_in(argv: list[str]) -> list[str]:
    """The ``--config``/``-c`` files named on a command line, for messages."""
    return [str(Path(p)) for p in option_values(argv, ("--config", "-c"))]


def check_config_files(files: list[str]) -> None:
    """Each ``--config`` file that exists is UTF-8 text holding a YAML mapping (broken YAML and
    missing files are left to the parser, which names them).

    Raises:
        LightCNNError: the file and what is wrong with it.
    """
    import yaml

    from lightcnn.strict_yaml import load_unique_keys

    for name in files:
        path = Path(name)
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LightCNNError(f"{name} is not UTF-8 text (byte {err.start}: {data[err.start:err.start + 1]!r}); "
                                f"save the config as UTF-8") from err
        try:
            loaded = load_unique_keys(text)  # a key given twice would be dropped silently by PyYAML
        except yaml.YAMLError as err:
            raise LightCNNError(_yaml_problem(name, text, err)) from err
        if loaded is None:
            raise LightCNNError(f"{name} is empty: a config is a YAML mapping of sections (model:, data:, trainer:), "
                                f"e.g. configs/mnist_classify.yaml")
        if not isinstance(loaded, dict):
            raise LightCNNError(f"{name} holds a YAML {type(loaded).__name__}, but a config is a mapping of sections "
                                f"(model:, data:, trainer:), e.g. configs/mnist_classify.yaml")


def _yaml_problem(name: str, text: str, err: Exception) -> str:
    """``file:line:column: what is wrong`` for broken YAML, with the usual cause named."""
    from lightcnn.strict_yaml import DuplicateKeyError

    problem = " ".join(str(getattr(err, "problem", None) or err).split())
    mark = getattr(err, "problem_mark", None)
    if mark is None:  # e.g. a ReaderError (a control character): its message names the position
        return f"{name}: not valid YAML ({problem})"
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    if isinstance(err, DuplicateKeyError):
        hint = "; keep one of them (YAML would silently use only the last; check the indentation if they belong to different sections)"
    elif "\t" in line[: mark.column + 1]:
        hint = "; YAML indents with spaces, and this line has a tab"
    elif glued := glued_line(name, lines, mark.line):
        return glued
    else:
        hint = "; check the indentation and the brackets and quotes on this line and the one before"
    return f"{name}:{mark.line + 1}:{mark.column + 1}: not valid YAML ({problem}){hint}"
