"""The notebooks' nets: exact parameter counts, BatchNorm and Dropout placement, the Keras-style
summary, Keras's RMSprop."""

import pytest
import torch
from torch import nn

from lightcnn.data.info import DataInfo
from lightcnn.errors import LightCNNError
from lightcnn.models.convnet import ConvNet
from lightcnn.models.summary import layer_rows, summary_text, totals
from lightcnn.tasks.classification import ClassificationTask

CIFAR10 = DataInfo(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)
CIFAR100 = DataInfo(num_classes=100, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)


def kinds(net: nn.Module) -> list[str]:
    return [type(m).__name__ for m in net.layers]


def test_notebook_000_cifar100_net_is_valid_padded_with_270372_parameters():
    task = ClassificationTask(backbone="convnet", data=CIFAR100, backbone_args={
        "channels": [32, 64, 128], "pool_after": [0, 1, 2], "dense": [256, 128], "padding": "valid"})
    assert sum(p.numel() for p in task.parameters()) == 270_372


def test_batchnorm_positions_put_the_layer_where_keras_users_put_it():
    assert kinds(ConvNet(channels=[8], pool_after=[0], dense=[], batchnorm=True)) == [
        "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten"]
    assert kinds(ConvNet(channels=[8], pool_after=[0], dense=[], batchnorm=True, batchnorm_position="after_relu")) == [
        "Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d", "Flatten"]
    assert kinds(ConvNet(channels=[8], pool_after=[0], dense=[], batchnorm=True, batchnorm_position="after_pool")) == [
        "Conv2d", "ReLU", "MaxPool2d", "BatchNorm2d", "Flatten"]
    # Before the ReLU the conv's bias is redundant and dropped; after it, the conv keeps it (as Keras's does).
    assert ConvNet(channels=[8], batchnorm=True).layers[0].bias is None
    assert ConvNet(channels=[8], batchnorm=True, batchnorm_position="after_relu").layers[0].bias is not None
    dense = ConvNet(channels=[8], pool_after=[], dense=[16], batchnorm=True, batchnorm_position="after_relu")
    assert kinds(dense)[-3:] == ["Linear", "ReLU", "BatchNorm1d"] and dense.layers[-3].bias is not None


def test_batchnorm_on_chosen_conv_layers_only():
    net = ConvNet(channels=[8, 8, 8], pool_after=[0, 1], dense=[16], batchnorm=[0])
    assert kinds(net) == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                          "Conv2d", "ReLU", "Flatten", "Linear", "ReLU"]
    both = ConvNet(channels=[8, 8, 8], pool_after=[0, 1], batchnorm=[0, 1], batchnorm_position="after_pool")
    assert kinds(both)[:8] == ["Conv2d", "ReLU", "MaxPool2d", "BatchNorm2d", "Conv2d", "ReLU", "MaxPool2d", "BatchNorm2d"]


def test_dropout_after_the_dense_layer_only():
    net = ConvNet(channels=[8, 8], pool_after=[0, 1], dense=[16], dropout=0.5, dropout_at="dense")
    assert kinds(net) == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Dropout"]
    pools = ConvNet(channels=[8, 8], pool_after=[0, 1], dense=[16], dropout=0.5, dropout_at="pool")
    assert kinds(pools).count("Dropout") == 2 and kinds(pools)[-1] == "ReLU"


@pytest.mark.parametrize("options, match", [
    ({"batchnorm": [3]}, r"batchnorm=\[3\] names conv layer 3, but the net has 3 conv layers; valid indices: 0-2"),
    ({"batchnorm": [2], "batchnorm_position": "after_pool"},
     r"batchnorm_position='after_pool' but conv layer 2 has no pool after it \(pool_after=\[0, 1\]\); valid layers for it: \[0, 1\]"),
    ({"batchnorm_position": "after_relu"}, r"batchnorm_position='after_relu' but batchnorm is off"),
    ({"dropout_at": "dense"}, r"dropout_at='dense' but dropout is 0; set dropout > 0"),
    ({"dropout_at": "dense", "dropout": 0.3, "dense": []}, r"dropout_at='dense' but the net has no dense layer \(dense: \[\]\)"),
    ({"dropout_at": "pool", "dropout": 0.3, "pool_after": []}, r"dropout_at='pool' but the net has no pool"),
])
def test_placements_that_make_no_sense_are_named(options, match):
    with pytest.raises(LightCNNError, match=match):
        ConvNet(**options)


def test_cli_rejects_a_bad_placement_in_one_line(tmp_path):
    from lightcnn.models import build_backbone

    with pytest.raises(LightCNNError, match="conv layer 2 has no pool after it"):
        build_backbone("cifar10_base", 3, 32, {"batchnorm": [2], "batchnorm_position": "after_pool"})


def test_keras_summary_counts_batchnorm_statistics_as_non_trainable():
    task = ClassificationTask(backbone="cifar10_base", backbone_args={"batchnorm": True, "batchnorm_position": "after_relu"}, data=CIFAR10)
    trainable, frozen = totals(task)
    # 122,570 + 4 x (32 + 64 + 64 + 64) BatchNorm values, half of them moving statistics
    assert (trainable + frozen, trainable, frozen) == (123_466, 123_018, 448)
    rows = {r.name: r for r in layer_rows(task, (3, 32, 32))}
    assert rows["backbone.layers.0"].output_shape == (32, 30, 30) and rows["backbone.layers.0"].params == 896
    assert rows["backbone.layers.2"].kind == "BatchNorm2d" and (rows["backbone.layers.2"].trainable, rows["backbone.layers.2"].non_trainable) == (64, 64)
    assert rows["backbone.layers.7"].output_shape == (64, 6, 6)
    assert rows["head"].output_shape == (10,) and rows["head"].params == 650
    text = summary_text(task, (3, 32, 32), "lab")
    assert "Total params: 123,466" in text and "Trainable params: 123,018" in text and "Non-trainable params: 448" in text
    assert task.training  # the summary's eval-mode forward leaves the mode as it was


def test_frozen_parameters_are_non_trainable():
    task = ClassificationTask(backbone="fastnet", backbone_args={"width": 0.25, "whiten": True}, data=CIFAR10)
    _, frozen = totals(task)
    stem = task.backbone.stem.weight.numel()
    stats = sum(m.running_mean.numel() * 2 for m in task.modules() if isinstance(m, nn.BatchNorm2d))
    assert frozen == stem + stats


def test_rmsprop_is_keras_s():
    task = ClassificationTask(backbone="cifar10_base", optimizer="rmsprop", lr=0.001, data=CIFAR10)
    opt = task.configure_optimizers()
    assert isinstance(opt, torch.optim.RMSprop)
    assert (opt.defaults["alpha"], opt.defaults["eps"], opt.defaults["momentum"], opt.defaults["lr"]) == (0.9, 1e-7, 0, 0.001)


def test_summary_command_prints_the_keras_table(capsys):
    from lightcnn.entry import main
    from tests.conftest import REPO

    assert main(["summary", "--config", str(REPO / "configs" / "labs" / "001_cifar10_base.yaml")]) == 0
    out = capsys.readouterr().out
    assert 'Model: "ClassificationTask(cifar10_base)"  input (None, 3, 32, 32)' in out
    assert "backbone.layers.6 (Conv2d)" in out and "(None, 64, 4, 4)" in out
    assert "Total params: 122,570\nTrainable params: 122,570\nNon-trainable params: 0" in out
    assert main(["summary", "--config", str(REPO / "configs" / "labs" / "001_cifar10_base.yaml"),
                 "--model.backbone_args", "{batchnorm: [5]}"]) == 2
    assert "batchnorm=[5] names conv layer 5, but the net has 3 conv layers" in capsys.readouterr().err


def test_visualize_picks_a_layer_and_draws_signed_filters():
    from lightcnn.report.visualize import conv_layers, pick_conv, signed_filters_png

    net = ConvNet(channels=[4, 6], pool_after=[0], dense=[])
    convs = conv_layers(net)
    assert pick_conv(convs, None)[0] == "layers.0" and pick_conv(convs, "1")[0] == "layers.3" and pick_conv(convs, "layers.3")[1] is net.layers[3]
    with pytest.raises(LightCNNError, match=r"--layer 7: no such conv layer; valid \(position=name\): 0=layers.0, 1=layers.3"):
        pick_conv(convs, "7")
    assert signed_filters_png(net.layers[3], "layers.3", input_channel=2)[:4] == b"\x89PNG"
    with pytest.raises(LightCNNError, match=r"--input-channel 4: layers.3 has input channels 0..3"):
        signed_filters_png(net.layers[3], "layers.3", input_channel=4)


def test_f_beta_must_be_positive():
    with pytest.raises(LightCNNError, match=r"model.f_beta must be > 0 \(2 weighs recall higher, 0.5 precision\), or null; got 0"):
        ClassificationTask(backbone="cifar10_base", f_beta=0, data=CIFAR10)


def test_summary_of_another_backbone_drops_the_configs_backbone_args_as_fit_does(capsys):
    # mnist_classify.yaml's backbone_args {batchnorm: true} were written for mnist_cnn: fit drops
    # them when --model.backbone names another one; summary failed on them ("unexpected keyword")
    from lightcnn.entry import main
    from tests.conftest import REPO

    assert main(["summary", "--config", str(REPO / "configs" / "mnist_classify.yaml"), "--model.backbone", "mlp"]) == 0
    captured = capsys.readouterr()
    assert "its backbone_args {batchnorm: true} (written for mnist_cnn) are dropped" in captured.err
    assert 'Model: "ClassificationTask(mlp)"' in captured.out and "Non-trainable params: 0" in captured.out  # no BatchNorm
