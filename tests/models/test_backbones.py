"""Registry-driven: every registered backbone meets the contract; the labs' nets have their sizes."""

import pytest
import torch
from torch import nn

import lightcnn.models  # noqa: F401
from lightcnn.errors import LightCNNError
from lightcnn.models import build_backbone, check_backbone, count_parameters
from lightcnn.registry import BACKBONES

# Input shapes each built-in is meant for: (in_channels, image_size).
SHAPES = {"cifar10_base": (3, 32), "cifar100_cnn": (3, 32), "convnet": (3, 32)}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_registered_backbone_forward_backward(name):
    torch.manual_seed(0)
    c, s = SHAPES.get(name, (1, 28))
    model = build_backbone(name, c, s)
    x = torch.randn(3, c, s, s)
    out = model(x)
    assert out.shape == (3, model.num_features)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_cifar10_base_has_the_labs_122570_parameters_with_a_10_way_head():
    model = build_backbone("cifar10_base", 3, 32)
    head = nn.Linear(model.num_features, 10)
    assert model.num_features == 64
    assert count_parameters(model) + count_parameters(head) == 122_570


def test_lab_net_shapes():
    assert build_backbone("mnist_cnn", 1, 28).num_features == 7 * 7 * 64
    assert build_backbone("embed_cnn", 1, 28).num_features == 8 * 8 * 64
    assert build_backbone("cifar100_cnn", 3, 32).num_features == 128
    assert build_backbone("mlp", 1, 28).num_features == 128


def test_options_depth_width_kernel_batchnorm_dropout():
    model = build_backbone(
        "cifar10_base", 3, 32, {"depth": 2, "width": 2.0, "kernel_size": 5, "batchnorm": True, "dropout": 0.25}
    )
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128]
    assert all(c.kernel_size == (5, 5) and c.bias is None for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == 3  # after 2 pools + 1 dense
    deeper = build_backbone("mnist_cnn", 1, 28, {"depth": 5})
    assert [c.out_channels for c in deeper.modules() if isinstance(c, nn.Conv2d)] == [16, 32, 64, 64, 64]
    mlp = build_backbone("mlp", 1, 28, {"depth": 3, "width": 0.5, "batchnorm": True})
    assert [m.out_features for m in mlp.modules() if isinstance(m, nn.Linear)] == [128, 64, 64]


def test_bad_options_are_named():
    with pytest.raises(LightCNNError, match="no option 'kernal_size'.*kernel_size"):
        build_backbone("mnist_cnn", 1, 28, {"kernal_size": 3})
    with pytest.raises(LightCNNError, match="dropout must be in"):
        build_backbone("mnist_cnn", 1, 28, {"dropout": 1.5})
    with pytest.raises(LightCNNError, match="shrinks to nothing"):
        build_backbone("cifar10_base", 3, 8)
    with pytest.raises(LightCNNError, match="come from the data module"):
        build_backbone("mnist_cnn", 1, 28, {"in_channels": 3})
    with pytest.raises(LightCNNError, match="model.backbone must be a registered name .* got int 42"):
        build_backbone(42, 1, 28)  # from Python: was an AttributeError inside the registry


class NoFeatures(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class WrongShape(nn.Module):
    num_features = 7

    def forward(self, x):
        return x.flatten(1)


class WrongChannels(nn.Module):
    num_features = 4

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


@pytest.mark.parametrize(
    "module, match",
    [
        (NoFeatures(), "needs an int attribute `num_features`"),
        (WrongShape(), r"\(2, 7\), got \(2, 784\)"),
        (WrongChannels(), r"failed on a dummy batch of shape \(2, 1, 28, 28\)"),
        ("not a module", "not a torch.nn.Module"),
    ],
)
def test_contract_violations_name_the_backbone(module, match):
    with pytest.raises(LightCNNError, match=match) as err:
        check_backbone(module, 1, 28)
    if isinstance(module, nn.Module):
        assert type(module).__name__ in str(err.value) and "test_backbones.py" in str(err.value)


@pytest.mark.slow
def test_timm_backbone_in_chans_and_local_weights(tmp_path):
    model = build_backbone("timm/resnet10t", 1, 32)
    assert model.conv1[0].in_channels == 1 and model.num_features == 512
    weights = tmp_path / "w.pth"
    torch.save(model.state_dict(), weights)
    again = build_backbone("timm/resnet10t", 1, 32, {"weights": str(weights)})
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(LightCNNError, match="does not exist"):
        build_backbone("timm/resnet10t", 1, 32, {"weights": str(tmp_path / "missing.pth")})
