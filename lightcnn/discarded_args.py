"""Options a config gave that jsonargparse drops when a later value changes the class.

``--config configs/mnist_classify.yaml --model EmbeddingTask`` keeps the classifier's options
that ``EmbeddingTask`` also takes and drops the rest (``label_smoothing``), saying so only in a
debug log. That is the right merge, but not a silent one: this collects jsonargparse's log line
so the CLI can show each dropped option as a note.
"""

from __future__ import annotations

import ast
import logging
import re

_DISCARDED = re.compile(r"class_path change from '([^']+)' to '([^']+)', discarding init_args: (\{.*\})\.?$", re.S)


class DiscardedArgs(logging.Handler):
    """A logging handler for a jsonargparse parser's ``logger``: keeps one note per class change
    that dropped options (``notes``)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.notes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = _DISCARDED.search(record.getMessage())
        if m is None:
            return
        old, new = (c.rpartition(".")[2] for c in m.groups()[:2])
        try:
            dropped = ", ".join(f"{k}={v!r}" for k, v in ast.literal_eval(m.group(3)).items())
        except (ValueError, SyntaxError, AttributeError):
            dropped = m.group(3)
        note = f"{new} replaces {old}, and these options of {old} do not apply to {new}, so they are dropped: {dropped}"
        if note not in self.notes:
            self.notes.append(note)

    def logger(self) -> logging.Logger:
        """A logger (not propagating) that feeds this handler, for ``ArgumentParser(logger=...)``:
        one name for the process, handed to the newest parser (each CLI parses before the next is made)."""
        log = logging.getLogger("lightcnn.config")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.handlers[:] = [self]
        return log
