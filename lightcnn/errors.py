"""The one exception type the CLI turns into a short message and a non-zero exit, and how the
CLI finds the user-fixable error behind a library's wrapped one."""

from __future__ import annotations

import re


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
    chain = _chain(err)
    ours = next((e for e in chain if isinstance(e, LightCNNError)), None)
    if ours is not None:
        return ours
    missing = next((e for e in chain if isinstance(e, ImportError)), None)
    if missing is None:
        return None
    text = " ".join(str(missing).split("HINT:")[0].split())
    owner = next((m.group(1) for m in [re.search(r"class_path '([^']+)'", str(e)) for e in chain] if m), None)
    package = missing.name or next((p for p in EXTRAS if re.search(rf"\b{p}\b", text)), None)
    extra = EXTRAS.get(str(package))
    install = f"pip install -e '.[{extra}]'" if extra else f"pip install {package}" if package else "install it"
    return LightCNNError(f"{owner or 'a configured class'} needs a package that is not installed ({text}): {install}")


def _chain(err: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out
