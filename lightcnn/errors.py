"""The one exception type the CLI turns into a short message and a non-zero exit, and how the
CLI finds the user-fixable error behind a library's wrapped one."""

from __future__ import annotations

import errno
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
        return LightCNNError(f"trainer settings: {first}")
    if isinstance(err, (TypeError, ValueError, RuntimeError)) and err.__traceback__ is not None:
        frames = traceback.extract_tb(err.__traceback__)
        if frames and _LIGHTNING_CHECKS.search(frames[-1].filename.replace("\\", "/")):
            return LightCNNError(f"trainer settings: {first}")
    if isinstance(err, OSError) and err.errno in _FILE_ERRORS:
        where = f"{err.filename}" + (f" -> {err.filename2}" if err.filename2 else "") if err.filename else "a file or folder lightcnn writes"
        return LightCNNError(f"{where}: {_FILE_ERRORS[err.errno]}")
    return None


def exception_chain(err: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out
