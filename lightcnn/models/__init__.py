"""Built-in backbones, one family per file; importing this package registers them."""

from lightcnn.models import convnet, fastnet, mlp, timm_models  # noqa: F401  (registration side effects)
from lightcnn.models.base import build_backbone, check_backbone, count_flops, count_parameters

__all__ = ["build_backbone", "check_backbone", "count_flops", "count_parameters"]
