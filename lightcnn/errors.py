"""The one exception type the CLI turns into a short message and a non-zero exit, and how the
CLI finds the user-fixable error behind a library's wrapped one."""

from __future__ import annotations

import errno
import inspect
import re
import traceback


class LightCNNError(Exception):
    """A user-facing error: bad config, bad data, broken plugin.

    ``main()`` prints ``str(err)`` without a traceback and exits with status 2, so the
    message itself must name the culprit (file, key or value) and what would be valid.
    """


EXTRAS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "onnx": "export", "onnxscript": "export",
          "onnxruntime": "export", "optuna": "sweep"}  # package -> lightcnn's extra that installs it


def user_error_in(err: BaseException) -> LightCNNError | None:
    """The user-fixable error behind ``err``: a ``LightCNNError``, or a package a configured class
    (a logger, a callback) needs and that is not installed, named with its install command."""
    chain = exception_chain(err)
    ours = next((e for e in chain if isinstance(e, LightCNNError)), None)
    if ours is not None:
        return ours
    refused = next((t for t in map(_refused_by_configured_class, chain) if t is not None), None)
    if refused is not None:
        return refused
    known = next((t for t in map(_translate, chain) if t is not None), None)
    if known is not None:
        return known
    missing = next((e for e in chain if isinstance(e, ImportError)), None)
    if missing is None:
        return None
    text = " ".join(str(missing).split("HINT:")[0].split())
    owner = next((m.group(1) for m in [re.search(r"class_path '([^']+)'", str(e)) for e in chain] if m), None)
    package = missing.name or next((p for p in EXTRAS if re.search(rf"\b{p}\b", text)), None)
    extra = EXTRAS.get(str(package))
    install = f"pip install -e '.[{extra}]'" if extra else f"pip install {package}" if package else "install it"
    return LightCNNError(f"{owner or 'a configured class'} needs a package that is not installed ({text}): {install}")


# Where Lightning validates what it was given: a TypeError / ValueError / RuntimeError raised
# there is about the user's settings (devices, accelerator, a callback's monitor), not a bug.
_LIGHTNING_CHECKS = re.compile(
    r"lightning/(pytorch|fabric)/(trainer/connectors/|connector\.py|accelerators/|callbacks/|trainer/configuration_validator\.py"
    r"|utilities/(device_parser|argparse|seed)\.py|loops/utilities\.py)"
)
_FILE_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
                errno.EACCES: "permission denied", errno.ENOTDIR: "a file stands where a folder is needed",
                errno.EISDIR: "a folder stands where a file is needed", errno.EEXIST: "a file of that name is in the way",
                errno.ELOOP: "too many levels of symbolic links", errno.ENOENT: "no such file or folder"}


# Lightning's messages that leave the way out unsaid: what a user of lightcnn's configs can change.
_SETTINGS_HINTS = (
    (re.compile(r"No supported gpu backend found|accelerator is not available"),
     "this machine has no such device: use trainer.accelerator cpu, or auto, which takes a GPU where there is one"),
)


def _settings_error(first: str) -> LightCNNError:
    hint = next((h for pattern, h in _SETTINGS_HINTS if pattern.search(first)), None)
    return LightCNNError(f"trainer settings: {first}" + (f"; {hint}" if hint else ""))


def _translate(err: BaseException) -> LightCNNError | None:
    """One line for a library's exception that is about the user's settings or files."""
    first = " ".join((str(err).strip().split("\n\n")[0]).split())
    if isinstance(err, IndexError) and (m := re.search(r"Target (-?\d+) is out of bounds", str(err))):
        return LightCNNError(f"a batch holds label {m.group(1)}, outside the task's classes: the DataModule's labels and its "
                             f"data_info.num_classes disagree")
    if isinstance(err, RuntimeError) and str(err).startswith("Error(s) in loading state_dict"):
        detail = next((ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()), "")[:300]
        return LightCNNError(f"the checkpoint's weights do not fit the model built from the config ({detail}); a checkpoint's "
                             f"architecture (model.backbone, backbone_args, embedding_dim) cannot be changed when loading it")
    if type(err).__name__ == "MisconfigurationException":
        return _settings_error(first)
    if isinstance(err, (TypeError, ValueError, RuntimeError)) and err.__traceback__ is not None:
        frames = traceback.extract_tb(err.__traceback__)
        if frames and _LIGHTNING_CHECKS.search(frames[-1].filename.replace("\\", "/")):
            return _settings_error(first)
    if isinstance(err, OSError) and err.errno in _FILE_ERRORS:
        where = f"{err.filename}" + (f" -> {err.filename2}" if err.filename2 else "") if err.filename else "a file or folder lightcnn writes"
        return LightCNNError(f"{where}: {_FILE_ERRORS[err.errno]}")
    return None


# Raised by a constructor's own code, not by the values it was given: those stay tracebacks.
_CODE_ERRORS = (AttributeError, NameError, AssertionError, NotImplementedError, RecursionError, SyntaxError, ImportError)


def _refused_by_configured_class(err: BaseException) -> LightCNNError | None:
    """One line for a library class named in the config (a logger, a callback, a strategy) whose
    constructor refused the values it was given, e.g. ``MLFlowLogger`` with a ``file:`` tracking
    URI that MLflow 3 no longer accepts. jsonargparse calls the constructor and wraps what it raised
    in a dump of every Union branch it tried; the class and its arguments are in the frame of that
    call. lightcnn's own classes and the user's plugins are left out: what they raise is theirs to
    name (a ``LightCNNError``) or a bug whose traceback is needed."""
    if not isinstance(err, Exception) or isinstance(err, _CODE_ERRORS):
        return None
    built: tuple[type, dict] | None = None
    tb = err.__traceback__
    while tb is not None:  # the innermost jsonargparse frame that called a class
        frame = tb.tb_frame
        cls = frame.f_locals.get("class_type") if "jsonargparse" in frame.f_code.co_filename else None
        if isinstance(cls, type):
            built = (cls, dict(frame.f_locals.get("kwargs") or {}))
        tb = tb.tb_next
    if built is None:
        return None
    cls, kwargs = built
    if cls.__module__.split(".")[0] in ("lightcnn", "plugins"):
        return None
    try:
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    except (TypeError, ValueError):
        defaults = {}
    given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k not in defaults or not _same(defaults[k], v))
    first = " ".join((str(err).strip().split("\n\n")[0]).split()) or "(no message)"
    return LightCNNError(f"{cls.__module__}.{cls.__qualname__}({given}) refused its settings: {type(err).__name__}: {first}")


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an array-like default has no single truth value
        return a is b


def exception_chain(err: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out
