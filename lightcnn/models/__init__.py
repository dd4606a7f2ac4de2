"""Built-in backbones, one family per file; importing this package registers them."""

from lightcnn.models import timm_models  # noqa: F401  (registration side effects)
from lightcnn.models.base import build_backbone, check_backbone, count_flops, count_parameters
from lightcnn.models.convnet import ConvNet
from lightcnn.models.fastnet import FastNet
from lightcnn.models.mlp import MLP
from lightcnn.models.speednet import SpeedNet
from lightcnn.models.timm_models import timm_backbone

__all__ = ["MLP", "SpeedNet", "ConvNet", "FastNet", "build_backbone", "check_backbone", "count_flops", "count_parameters", "timm_backbone"]
