"""The callbacks a lightcnn Trainer gets unless its user gives their own: one place for the
``lightcnn`` command and for ``Experiment``, so that a notebook trains as fast and prints what
the command does.

- A progress display that costs nothing measurable per step: Lightning's default tqdm bar
  refreshes on every step (~1.5 ms of Python per step on 2 cores, a few percent of a small CNN's
  step); every ``PROGRESS_EVERY``-th step costs ~0.3 ms. Where no bar can be redrawn (a log file,
  CI, a batch job), ``EpochLines`` prints one line per epoch instead of kilobytes of ``\\r``.
- ``FlopsModelSummary``: Lightning's summary with the FLOPs of one image, where Lightning's own
  prints "0 Total Flops" for lightcnn's tasks.
"""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch.callbacks import Callback, ModelSummary, ProgressBar, TQDMProgressBar

from lightcnn.callbacks.epoch_lines import EpochLines
from lightcnn.lightning_overrides import FlopsModelSummary

PROGRESS_EVERY = 10  # steps between progress-bar refreshes


def bars_redraw() -> bool:
    """Whether stdout shows a redrawn progress bar: a terminal, or a Jupyter/IPython kernel
    (whose stdout is no terminal but renders ``\\r`` as a redraw)."""
    if sys.stdout.isatty():
        return True
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return shell is not None and "ipykernel" in sys.modules


def default_callbacks(given: list[Any], enable_progress_bar: bool | None = None,
                      enable_model_summary: bool | None = None) -> list[Callback]:
    """The default callbacks to add beside ``given`` (the user's own): a progress display unless
    the bar is turned off or ``given`` has one, and the FLOPs summary unless the summary is
    turned off or ``given`` has one."""
    added: list[Callback] = []
    if enable_progress_bar is not False and not any(isinstance(c, ProgressBar) for c in given):
        added.append(TQDMProgressBar(refresh_rate=PROGRESS_EVERY) if bars_redraw() else EpochLines())
    if enable_model_summary is not False and not any(isinstance(c, ModelSummary) for c in given):
        added.append(FlopsModelSummary())
    return added
