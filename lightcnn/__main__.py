"""``python -m lightcnn`` is the ``lightcnn`` command."""

from lightcnn.cli import run

run()
