"""airbench's training tricks as lightcnn options (issue 15): each does what it says, on a batch."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer

from lightcnn.augment.pipeline import Pipeline
from lightcnn.callbacks.lookahead import Lookahead
from lightcnn.data import DataInfo
from lightcnn.errors import LightCNNError
from lightcnn.models.fastnet import FastNet, whitening_filters
from lightcnn.models.speednet import SpeedNet
from lightcnn.tasks import ClassificationTask

MNIST_INFO = DataInfo(num_classes=10, in_channels=1, image_size=28, mean=(0.13,), std=(0.31,))
CIFAR_INFO = DataInfo(num_classes=10, in_channels=3, image_size=32, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def patches_covariance(images: torch.Tensor, conv: torch.nn.Conv2d, channels: int) -> torch.Tensor:
    out = torch.nn.functional.conv2d(images.double(), conv.weight[:channels].double())
    flat = out.permute(0, 2, 3, 1).reshape(-1, channels)
    return flat.T @ flat / len(flat)


def test_whitening_makes_the_stems_outputs_white_and_keeps_them_fixed() -> None:
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.8, 0.6], [0.0, 0.5, 0.4], [0.0, 0.0, 0.3]])  # correlated colour channels
    images = torch.einsum("oc,nchw->nohw", mix, torch.randn(64, 3, 32, 32, generator=g))
    net = FastNet(width=0.25, whiten=True)
    assert not net.stem.weight.requires_grad and net.stem.bias.requires_grad
    before = patches_covariance(images, net.stem, 12)
    net.init_from_data(images)
    cov = patches_covariance(images, net.stem, 12)
    assert (before - torch.eye(12, dtype=torch.float64)).abs().max() > 0.1  # random filters are not white
    # uncorrelated outputs of variance lambda / (lambda + eps), lambda the patches' eigenvalues (largest first)
    flat = images.double().unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    eig = torch.linalg.eigvalsh(flat.T @ flat / len(flat)).flip(0)
    assert torch.allclose(cov, torch.diag(eig / (eig + 5e-4)), atol=1e-5)
    assert torch.equal(net.stem.weight[12:], -net.stem.weight[:12])  # each filter with its negative
    assert net.state_dict().keys() == FastNet(width=0.25).state_dict().keys()  # checkpoints keep their keys


def test_whitening_filters_of_a_hand_worked_case() -> None:
    # one channel, 1x1 "patches" with values +-2: second moment 4, so the filter is 1 / sqrt(4 + eps)
    images = torch.tensor([2.0, -2.0]).view(2, 1, 1, 1)
    assert torch.allclose(whitening_filters(images, 1, eps=0.0), torch.tensor([[[[0.5]]]]))


def test_whiten_refuses_a_stem_it_cannot_fill() -> None:
    with pytest.raises(LightCNNError, match=r"whiten needs an even stem of at most 24 .* got stem=25"):
        FastNet(stem=25, whiten=True)


def test_dirac_init_makes_each_conv_start_as_the_identity() -> None:
    net = FastNet(width=0.25, dirac=True)
    conv = net.layers[2][4]  # the second conv of the first group: 16 -> 16 channels
    x = torch.randn(2, conv.in_channels, 8, 8)
    assert torch.allclose(conv(x), x, atol=1e-6)
    first = net.layers[2][0]  # 24 -> 16 channels: the first 16 outputs copy the first 16 inputs
    x = torch.randn(2, first.in_channels, 8, 8)
    assert torch.allclose(first(x), x[:, : first.out_channels], atol=1e-6)


@pytest.mark.slow
def test_a_fit_from_scratch_whitens_the_stem_from_training_images(mnist_root, tmp_path) -> None:
    from lightcnn.cli import main

    runs = tmp_path / "runs"
    code = main(["fit", "--config", "configs/mnist_classify.yaml", "--data.root", str(mnist_root), "--data.download", "false",
                 "--model.backbone", "fastnet", "--model.backbone_args", "{width: 0.25, stem: 8, whiten: true}",
                 "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.default_root_dir", str(runs),
                 "--trainer.enable_progress_bar", "false"])
    assert code == 0
    state = torch.load(next(runs.rglob("last.ckpt")), weights_only=True)["state_dict"]
    w = state["backbone.layers.0.weight"]
    fresh = FastNet(in_channels=1, image_size=28, width=0.25, stem=8).stem.weight
    assert torch.equal(w[4:], -w[:4]) and not torch.allclose(w, fresh)


def test_norm_bias_lr_puts_normalisation_biases_in_their_own_group() -> None:
    task = ClassificationTask(backbone="fastnet", backbone_args={"width": 0.25}, optimizer="sgd", lr=0.1,
                              weight_decay=0.01, norm_bias_lr=64, data=CIFAR_INFO)
    opt = task.configure_optimizers()
    rest, biases = opt.param_groups
    norm_biases = [m.bias for m in task.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [id(p) for p in biases["params"]] == [id(p) for p in norm_biases]
    assert (rest["lr"], rest["weight_decay"]) == (0.1, 0.01)
    assert biases["lr"] == pytest.approx(6.4) and biases["weight_decay"] == pytest.approx(0.01 / 64)
    assert len(rest["params"]) + len(biases["params"]) == len(list(task.parameters()))


def test_betas_and_cycle_momentum_reach_adam() -> None:
    task = ClassificationTask(backbone="speednet", optimizer="adam", lr=0.01, betas=(0.7, 0.9), data=MNIST_INFO)
    assert task.configure_optimizers().defaults["betas"] == (0.7, 0.9)
    with pytest.raises(LightCNNError, match=r"0 <= betas < 1.*betas=\[0.7, 1.5\]"):
        ClassificationTask(backbone="speednet", betas=(0.7, 1.5), data=MNIST_INFO)


def test_speednet_has_the_original_parameter_count() -> None:
    task = ClassificationTask(backbone="speednet", data=MNIST_INFO)
    assert task.num_parameters == 215_194
    assert task(torch.rand(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.slow
def test_tta_translate_averages_the_image_and_its_two_shifts() -> None:
    torch.manual_seed(0)
    task = ClassificationTask(backbone="fastnet", backbone_args={"width": 0.25}, tta_translate=1, data=CIFAR_INFO).eval()
    x = torch.rand(2, 3, 32, 32)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    with torch.no_grad():
        expected = 0.5 * task(x) + 0.25 * task(padded[..., :32, :32]) + 0.25 * task(padded[..., 2:, 2:])
        assert torch.allclose(task.evaluate(x), expected, atol=1e-6)
    flat = torch.full((1, 3, 32, 32), 0.3)  # shifting a flat image changes nothing
    with torch.no_grad():
        assert torch.allclose(task.evaluate(flat), task(flat), atol=1e-6)
    with pytest.raises(LightCNNError, match=r"tta_translate must be in 0..15 pixels for 32-pixel images, got 16"):
        ClassificationTask(backbone="fastnet", tta_translate=16, data=CIFAR_INFO)


def test_alternating_flip_mirrors_each_image_in_every_other_epoch() -> None:
    pipe = Pipeline.from_config([{"name": "hflip", "alternate": True}])
    assert pipe.needs_index
    x = (torch.arange(8.0) / 7).view(1, 1, 1, 8).repeat(64, 1, 1, 1)  # images in [0, 1], as the op contract says
    index = torch.arange(64)
    g = torch.Generator().manual_seed(0)
    flipped = [(pipe(x.clone(), g, index, epoch)[:, 0, 0, 0] == 1).tolist() for epoch in range(3)]
    assert 24 <= sum(flipped[0]) <= 40  # about half start mirrored
    assert flipped[1] == [not f for f in flipped[0]] and flipped[2] == flipped[0]
    with pytest.raises(LightCNNError, match="alternate: true flips half of the images each epoch, so p must be 0.5"):
        Pipeline.from_config([{"name": "hflip", "alternate": True, "p": 0.3}])


class _Climb(LightningModule):
    """One weight that plain SGD raises by exactly 1 per step (loss = -w, lr = 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        return -self.w

    def configure_optimizers(self):  # noqa: ANN201
        return torch.optim.SGD(self.parameters(), lr=1.0)

    def train_dataloader(self):  # noqa: ANN201
        return torch.utils.data.DataLoader(torch.zeros(8, 1), batch_size=1)


def test_lookahead_pulls_the_weights_back_as_specified(tmp_path) -> None:
    # every 2 steps, decay 0.5, no ramp: w 0 -> 1 -> 2, sync: slow = 0.5 * 0 + 0.5 * 2 = 1, w = 1;
    # -> 2 -> 3, sync: slow = 0.5 * 1 + 0.5 * 3 = 2, w = 2; -> 3 -> 4, sync: 3; the last step (6): w = slow = 3
    model = _Climb()
    trainer = Trainer(max_steps=6, callbacks=[Lookahead(every=2, decay=0.5, ramp=0.0)], logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model)
    assert float(model.w.detach()) == 3.0
    plain = _Climb()
    Trainer(max_steps=6, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            default_root_dir=tmp_path).fit(plain)
    assert float(plain.w.detach()) == 6.0


def test_a_resumed_lookahead_run_continues_with_its_slow_weights(tmp_path) -> None:
    # The same 6 steps as above, stopped after step 3 (w = 2, slow = 1) and resumed from its
    # checkpoint: step 4 syncs slow = 0.5 * 1 + 0.5 * 3 = 2, then as above: w ends at 3. Slow
    # weights started afresh from w = 2 would give slow = 2.5 there and w = 3.5 at the end.
    from lightning.pytorch.callbacks import ModelCheckpoint

    opts = dict(max_steps=6, logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    saver = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=3, save_top_k=-1, filename="{step}")
    Trainer(callbacks=[Lookahead(every=2, decay=0.5, ramp=0.0), saver], **opts).fit(_Climb())
    resumed = _Climb()
    Trainer(callbacks=[Lookahead(every=2, decay=0.5, ramp=0.0)], enable_checkpointing=False, **opts).fit(
        resumed, ckpt_path=tmp_path / "step=3.ckpt")
    assert float(resumed.w.detach()) == 3.0


def test_lookahead_ramps_its_decay_and_refuses_bad_values() -> None:
    with pytest.raises(LightCNNError, match="need every >= 1, 0 <= decay < 1"):
        Lookahead(every=0)
    cb = Lookahead(every=1, decay=0.5, ramp=1.0)
    model = _Climb()
    cb.slow = {"w": torch.tensor(0.0)}
    with torch.no_grad():
        model.w.fill_(4.0)
    cb.sync(model, 0.25)  # slow = 0.25 * 0 + 0.75 * 4 = 3
    assert float(model.w.detach()) == 3.0 and float(cb.slow["w"]) == 3.0


def test_speednet_rejects_images_too_small() -> None:
    with pytest.raises(LightCNNError, match="speednet: .* image_size=8"):
        SpeedNet(image_size=8)


@pytest.mark.slow
def test_compile_compiles_the_backbone_in_place_and_keeps_checkpoint_keys() -> None:
    task = ClassificationTask(backbone="speednet", compile=True, data=MNIST_INFO)
    keys = list(task.state_dict())
    task.setup("fit")  # compiled lazily: nothing is traced until the first batch
    assert task.backbone._compiled_call_impl is not None
    assert list(task.state_dict()) == keys
    plain = ClassificationTask(backbone="speednet", data=MNIST_INFO)
    plain.setup("fit")
    assert plain.backbone._compiled_call_impl is None


@pytest.mark.parametrize(("value", "mode"), [(True, None), ("default", None), ("reduce-overhead", "reduce-overhead"),
                                             ("max-autotune-no-cudagraphs", "max-autotune-no-cudagraphs")])
def test_compile_takes_torchs_modes(monkeypatch, value, mode) -> None:
    seen = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: seen.append(kw) or fn)
    task = ClassificationTask(backbone="speednet", compile=value, data=MNIST_INFO)
    task.setup("fit")
    task.setup("fit")  # compiled once
    assert seen == [{"mode": mode}]
    assert task(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_compile_refuses_an_unknown_mode_in_one_line() -> None:
    with pytest.raises(LightCNNError, match=r"^model.compile='fast'; valid: false, true \(= default\), default, reduce-overhead, "):
        ClassificationTask(backbone="speednet", compile="fast", data=MNIST_INFO)
    assert ClassificationTask(backbone="speednet", compile=False, data=MNIST_INFO).hparams.compile is False


def test_airbench_net_options_fix_bn_scales_scale_the_features_and_drop_the_head_bias() -> None:
    net = FastNet(width=0.25, bn_weight=False, bn_momentum=0.4, out_scale=0.5)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 6 and all(not n.weight.requires_grad and n.bias.requires_grad and n.momentum == 0.4 for n in norms)
    plain = FastNet(width=0.25)
    plain.load_state_dict(net.state_dict())  # same keys and shapes: checkpoints interchange
    x = torch.randn(4, 3, 32, 32)
    net.eval(), plain.eval()
    assert torch.allclose(net(x), 0.5 * plain(x), atol=1e-6)  # the features, scaled
    assert all(n.weight.requires_grad and n.momentum == 0.1 for n in plain.modules() if isinstance(n, torch.nn.BatchNorm2d))
    task = ClassificationTask(backbone="fastnet", backbone_args={"width": 0.25, "bn_weight": False}, head_bias=False,
                              optimizer="sgd", lr=0.1, norm_bias_lr=64, data=CIFAR_INFO)
    assert task.head.bias is None
    opt = task.configure_optimizers()
    trained = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not any(id(n.weight) in trained for n in task.modules() if isinstance(n, torch.nn.BatchNorm2d))
    assert len(trained) == sum(p.requires_grad for p in task.parameters())
    with pytest.raises(LightCNNError, match=r"0 < bn_momentum <= 1 and out_scale > 0; got bn_momentum=0.0, out_scale=1.0"):
        FastNet(bn_momentum=0.0)


def test_a_true_bf16_model_takes_float32_batches() -> None:
    # trainer.precision bf16-true makes the weights bf16; the data's batches arrive in float32
    task = ClassificationTask(backbone="fastnet", backbone_args={"width": 0.25}, data=CIFAR_INFO).to(torch.bfloat16).eval()
    out = task(torch.rand(2, 3, 32, 32))
    assert out.dtype == torch.bfloat16 and out.shape == (2, 10)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_fused_optimizers_take_the_same_step_as_the_default_ones(optimizer) -> None:
    from lightcnn.tasks.optim import optimizer_and_schedule

    x, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    weights = []
    for fused in (False, True):
        torch.manual_seed(0)
        task = ClassificationTask(backbone="speednet", optimizer=optimizer, lr=0.01, momentum=0.9, nesterov=optimizer == "sgd",
                                  weight_decay=1e-4, fused=fused, data=MNIST_INFO)
        opt = optimizer_and_schedule(task)
        assert opt.defaults.get("fused") is (True if fused else None)
        for _ in range(3):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(task(x), y).backward()
            opt.step()
        weights.append(torch.cat([p.detach().flatten() for p in task.parameters()]))
    assert not torch.equal(weights[0], torch.cat([p.detach().flatten() for p in ClassificationTask(
        backbone="speednet", data=MNIST_INFO).parameters()]))  # it trained
    # steps are ~1e-2; the fused kernels round differently (up to 2e-5 apart after 3 steps on an
    # AVX2 CPU, 1e-5 with AVX-512), while a wrong setting is off by far more (checked by hand: Adam's
    # beta1 0.85 for 0.9 by 1.6e-2, AdamW without its weight decay by 5e-4, SGD without nesterov by 2e-3)
    torch.testing.assert_close(weights[1], weights[0], rtol=1e-3, atol=1e-4)


def test_fused_refuses_an_optimizer_without_a_fused_step() -> None:
    with pytest.raises(LightCNNError, match=r"^model.fused: torch has no fused rmsprop step; fused works with optimizer: sgd, adam, adamw$"):
        ClassificationTask(backbone="speednet", optimizer="rmsprop", fused=True, data=MNIST_INFO)


def _schedule(task: ClassificationTask, steps: int):  # noqa: ANN202
    from types import SimpleNamespace

    from lightcnn.tasks.optim import optimizer_and_schedule

    host = SimpleNamespace(hparams=task.hparams, trainer=SimpleNamespace(estimated_stepping_batches=steps),
                           parameters=task.parameters, modules=task.modules)
    return optimizer_and_schedule(host)["lr_scheduler"]["scheduler"]


def test_onecycle_can_take_airbenchs_linear_triangle() -> None:
    # 0.2 x lr at the start, lr at step 22 (23 % of 100 steps), then linear to 0.07 x lr at step 99
    task = ClassificationTask(backbone="speednet", optimizer="sgd", lr=1.0, scheduler="onecycle", warmup_pct=0.23,
                              anneal="linear", start_factor=0.2, end_factor=0.07, cycle_momentum=False, data=MNIST_INFO)
    sched = _schedule(task, 100)
    lrs = []
    for _ in range(100):
        lrs.append(sched.optimizer.param_groups[0]["lr"])
        sched.optimizer.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.2) and lrs[22] == pytest.approx(1.0) and lrs[99] == pytest.approx(0.07)
    assert lrs[5] == pytest.approx(0.2 + 0.8 * 5 / 22)  # linear (a cosine would be at 0.297)
    assert lrs[22 + 77 // 2] == pytest.approx(1.0 - 0.93 * 38 / 77)  # linear on the way down too
    plain = _schedule(ClassificationTask(backbone="speednet", optimizer="sgd", lr=1.0, scheduler="onecycle", data=MNIST_INFO), 100)
    assert plain.optimizer.param_groups[0]["lr"] == pytest.approx(0.04)  # torch's default: lr / 25


@pytest.mark.parametrize("bad", [{"start_factor": 0.0}, {"end_factor": 1.5}])
def test_onecycle_factors_must_be_fractions_of_the_peak(bad) -> None:
    with pytest.raises(LightCNNError, match=r"^model: need 0 < start_factor <= 1 and 0 < end_factor <= 1 \(fractions of the peak lr\); got "):
        ClassificationTask(backbone="speednet", data=MNIST_INFO, **bad)
