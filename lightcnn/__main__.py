"""``python -m lightcnn`` is the ``lightcnn`` command."""

from lightcnn.entry import run

run()
