"""``pretrained: true`` without network: one clear error at once, not a minute of retries."""

from __future__ import annotations

import pytest

from lightcnn.errors import LightCNNError
from lightcnn.models import timm_models


def test_offline_pretrained_asks_only_the_local_cache_and_names_the_fix(monkeypatch, tmp_path):
    import timm
    from huggingface_hub import constants

    monkeypatch.setattr(timm_models, "_hub_reachable", lambda timeout=3.0: False)
    seen = []
    real = timm.create_model

    def create(*args, **kwargs):
        seen.append(constants.HF_HUB_OFFLINE)  # offline mode: no retries, the cache answers at once
        return real(*args, **kwargs)

    monkeypatch.setattr(timm, "create_model", create)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache
    before = constants.HF_HUB_OFFLINE
    with pytest.raises(LightCNNError, match=r"timm/resnet18: could not fetch pretrained weights .*backbone_args.weights"):
        timm_models.timm_backbone("resnet18", in_channels=3, pretrained=True)
    assert seen == [True]
    assert constants.HF_HUB_OFFLINE == before  # offline mode only for that call
    timm_models.timm_backbone("resnet18", in_channels=3, pretrained=False)  # no weights asked: no probe, no offline mode
    assert seen == [True, before]


def test_hub_probe_honours_offline_mode(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert timm_models._hub_reachable() is False
