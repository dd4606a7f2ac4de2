"""lightcnn: a modular trainer for image CNNs on PyTorch Lightning."""

__version__ = "0.1.0"
