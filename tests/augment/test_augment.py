from types import SimpleNamespace

import pytest
import torch

from lightcnn.augment import Pipeline
from lightcnn.augment.color import LUMA
from lightcnn.cli import main
from lightcnn.data.mnist import MNISTDataModule
from lightcnn.errors import LightCNNError
from lightcnn.registry import AUGMENTATIONS


def luma(x):
    """Reference ITU-R 601 luma, (b, 1, H, W)."""
    return (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)


def batch(n=16, c=3, s=12, seed=0):
    return torch.rand(n, c, s, s, generator=torch.Generator().manual_seed(seed))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_every_augmentation_keeps_shape_range_and_is_seeded(name):
    op = AUGMENTATIONS.get(name)(p=1.0)
    x = batch()
    a, b = op(x.clone(), gen(1)), op(x.clone(), gen(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert torch.equal(AUGMENTATIONS.get(name)(p=0.0)(x.clone(), gen(1)), x)


def test_probability_selects_images():
    x = batch(n=2000, c=1, s=2)
    out = AUGMENTATIONS.get("hflip")(p=0.3)(x.clone(), gen())  # ops write into the batch they get
    flipped = (out != x).flatten(1).any(1).float().mean().item()
    assert flipped == pytest.approx(0.3, abs=0.04)


def test_flips_are_exact():
    x = batch()
    assert torch.equal(AUGMENTATIONS.get("hflip")(p=1)(x.clone(), gen()), x.flip(-1))
    assert torch.equal(AUGMENTATIONS.get("vflip")(p=1)(x.clone(), gen()), x.flip(-2))


def test_random_crop_takes_windows_of_the_padded_image():
    x = torch.arange(64.0).view(1, 1, 8, 8).repeat(50, 1, 1, 1) / 64
    out = AUGMENTATIONS.get("random_crop")(padding=2, padding_mode="constant")(x.clone(), gen())
    padded = torch.nn.functional.pad(x[0], (2, 2, 2, 2))
    windows = {tuple(padded[0, i : i + 8, j : j + 8].flatten().tolist()) for i in range(5) for j in range(5)}
    assert all(tuple(o[0].flatten().tolist()) in windows for o in out)
    assert len({tuple(o.flatten().tolist()) for o in out}) > 5  # offsets differ per image


def test_smaller_crop_centre_crops_at_eval_and_sets_the_image_size():
    pipe = Pipeline.from_config([{"name": "random_crop", "size": 6, "padding": 0}])
    x = batch(s=10)
    assert pipe(x.clone(), gen()).shape[-2:] == (6, 6)
    assert torch.equal(pipe.eval_transform(x), x[..., 2:8, 2:8])
    assert pipe.output_size(10) == 6


def test_brightness_scales_each_image_within_range():
    x = batch(n=64).clamp(0.1, 0.5)
    out = AUGMENTATIONS.get("brightness")(factor=0.3)(x.clone(), gen())
    ratio = (out / x).flatten(1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-5)  # one factor per image
    assert ratio.min() >= 0.7 - 1e-6 and ratio.max() <= 1.3 + 1e-6 and ratio[:, 0].std() > 0.05


def test_grayscale_hue_and_saturation_identities():
    x = batch()
    gray = AUGMENTATIONS.get("grayscale")(p=1)(x.clone(), gen())
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 0:1], luma(x))
    assert torch.allclose(AUGMENTATIONS.get("hue")(factor=0.0)(x.clone(), gen()), x, atol=1e-5)
    mid = x * 0.2 + 0.4  # low chroma: rotated colours stay in gamut, no clamping
    hued = AUGMENTATIONS.get("hue")(factor=0.5)(mid.clone(), gen())
    assert torch.allclose(luma(hued), luma(mid), atol=1e-4)  # hue rotation keeps luma
    assert torch.allclose(AUGMENTATIONS.get("saturation")(factor=0.0)(x.clone(), gen()), x, atol=1e-6)
    assert torch.allclose(AUGMENTATIONS.get("rotation")(degrees=0.0)(x.clone(), gen()), x, atol=1e-5)


def test_cutout_blanks_a_square():
    out = AUGMENTATIONS.get("cutout")(size=4)(torch.ones(200, 1, 16, 16), gen())
    blank = (out == 0).sum(dim=(1, 2, 3))
    assert blank.max() == 16 and blank.min() >= 4  # a 4x4 square, clipped at the border


@pytest.mark.parametrize(
    "entries, match",
    [
        ([{"name": "rotation", "degrees": 500}], r"rotation \(data.augment\[0\]\): degrees=500 is out of range; valid: \[0.0, 180.0\]"),
        ([{"name": "hflip", "p": -0.1}], r"hflip \(data.augment\[0\]\): p=-0.1 is out of range"),
        ([{"name": "hflip"}, {"name": "saturation", "factor": [2.0, 0.5]}],
         r"saturation \(data.augment\[1\]\): factor=\[2.0, 0.5\] has low > high; give \[low, high\] with low <= high"),
        ([{"name": "contrast", "factor": [-0.5, 1.0]}], r"contrast \(data.augment\[0\]\): factor\[0\]=-0.5 is out of range"),
        ([{"name": "contrast", "factor": 1.5}], r"contrast \(data.augment\[0\]\): factor=1.5 is out of range; valid: \[0.0, 1.0\]"),
        ([{"name": "rotation", "fill_mode": "wrap"}], r"fill_mode='wrap' is not valid; fill_mode takes Literal\['constant', 'reflect', 'nearest'\]"),
        ([{"name": "brightness", "mode": "gamma"}], r"mode='gamma' is not valid; mode takes Literal\['multiply', 'add'\]"),
        ([{"name": "hflip", "prob": 0.5}], r"hflip \(data.augment\[0\]\) has no option 'prob'; valid options: \['alternate', 'p'\]"),
        ([{"name": "rotaton"}], "did you mean: rotation"),
        (["hflip"], r"data.augment\[0\] must be a mapping with a 'name'"),
    ],
)
def test_bad_parameters_are_named_with_the_valid_range(entries, match):
    with pytest.raises(LightCNNError, match=match):
        Pipeline.from_config(entries)


def test_applied_in_training_only(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), download=False, augment=[{"name": "hflip", "p": 1.0}], mean=[0.0], std=[1.0])
    xb = torch.randint(0, 255, (4, 1, 28, 28), dtype=torch.uint8)
    yb = torch.zeros(4, dtype=torch.long)
    dm.trainer = SimpleNamespace(training=False)
    assert torch.equal(dm.on_after_batch_transfer((xb, yb), 0)[0], xb.float() / 255)
    dm.trainer = SimpleNamespace(training=True)
    assert torch.equal(dm.on_after_batch_transfer((xb, yb), 0)[0], xb.float().flip(-1) / 255)


def test_generator_state_survives_a_checkpoint(mnist_root):
    aug = [{"name": "rotation", "degrees": 30}]
    a = MNISTDataModule(root=str(mnist_root), download=False, augment=aug, mean=[0.0], std=[1.0])
    a.trainer = SimpleNamespace(training=True)
    xb, yb = torch.randint(0, 255, (4, 1, 28, 28), dtype=torch.uint8), torch.zeros(4, dtype=torch.long)
    a.on_after_batch_transfer((xb, yb), 0)
    b = MNISTDataModule(root=str(mnist_root), download=False, augment=aug, mean=[0.0], std=[1.0])
    b.trainer = a.trainer
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.on_after_batch_transfer((xb, yb), 0)[0], b.on_after_batch_transfer((xb, yb), 0)[0])


@pytest.mark.slow
def test_preview_augment_writes_a_png(mnist_root, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "model: {class_path: ClassificationTask}\n"
        "data:\n  class_path: MNISTDataModule\n  init_args:\n"
        f"    root: {mnist_root}\n    download: false\n"
        "    augment: [{name: rotation, degrees: 30}, {name: cutout, size: 6}]\n"
    )
    out = tmp_path / "aug.png"
    assert main(["preview-augment", "--config", str(cfg), "--n", "3", "--rows", "4", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["preview-augment", "--config", str(cfg), "--data.augment", "null", "--out", str(tmp_path / "x.png")]) == 2
    assert "no augmentation to preview" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_composed_colour_ops_equal_op_by_op_application():
    x = batch(n=32) * 0.2 + 0.4  # mid-range: no clipping between ops
    entries = [{"name": "brightness", "factor": 0.1}, {"name": "contrast", "factor": 0.1},
               {"name": "saturation", "factor": 0.1}, {"name": "hue", "factor": 0.05}]
    fused = Pipeline.from_config(entries)(x.clone(), gen(3))
    g, y = gen(3), x.clone()
    for e in entries:
        y = Pipeline.from_config([e]).ops[0](y, g)
    assert len(Pipeline.from_config(entries)._runs) == 1
    assert torch.allclose(fused, y, atol=1e-5)


def test_composed_rotation_and_shift_match_sequential_inside_the_image():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    smooth = (0.25 + 0.5 * (0.6 * xx + 0.4 * yy)).expand(8, 1, 32, 32).contiguous()
    entries = [{"name": "rotation", "degrees": 10}, {"name": "translate", "fraction": 0.05}]
    fused = Pipeline.from_config(entries)(smooth.clone(), gen(1))
    g, y = gen(1), smooth.clone()
    for e in entries:
        y = Pipeline.from_config([e]).ops[0](y, g)
    inner = (slice(None), slice(None), slice(8, 24), slice(8, 24))
    assert torch.allclose(fused[inner], y[inner], atol=2e-3)


def test_asymmetric_ranges_draw_within_low_high():
    x = torch.rand(500, 3, 4, 4)
    sat = AUGMENTATIONS.get("saturation")(factor=[0.5, 2.0])
    drawn = sat.draw(500, gen(), x.device).flatten()
    assert drawn.min() >= 0.5 and drawn.max() <= 2.0 and drawn.max() > 1.5  # beyond what any symmetric f <= 1 reaching 0.5 allows


def test_fixed_pair_factors_are_exact():
    x = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]]])  # gray, mean 0.5
    contrast = AUGMENTATIONS.get("contrast")(factor=[0.5, 0.5])
    assert torch.allclose(contrast(x.clone(), gen()), torch.tensor([[[[0.35, 0.45], [0.55, 0.65]]]]))
    add = AUGMENTATIONS.get("brightness")(factor=[0.1, 0.1], mode="add")
    assert torch.allclose(add(x.clone(), gen()), x + 0.1)
    add_sym = AUGMENTATIONS.get("brightness")(factor=0.3, mode="add")
    out = add_sym(torch.full((400, 1, 2, 2), 0.5), gen())
    assert out.min() >= 0.2 - 1e-6 and out.max() <= 0.8 + 1e-6 and (out - 0.5).abs().max() > 0.25
    assert torch.allclose(out - out[:, :, :1, :1], torch.zeros_like(out))  # one offset per image
    rgb = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).repeat(1, 1, 2, 2)
    sat0 = AUGMENTATIONS.get("saturation")(factor=[0.0, 0.0])  # fully desaturated: the luma
    assert torch.allclose(sat0(rgb.clone(), gen()), torch.full_like(rgb, 0.299))


def test_reflect_fill_mirrors_the_edge_as_keras_does():
    from lightcnn.augment.geometric import _matrix, _warp

    x = torch.arange(4.0).view(1, 1, 1, 4).repeat(1, 1, 4, 1)  # columns 0 1 2 3
    one, zero = torch.ones(1), torch.zeros(1)
    right = _matrix(one, zero, torch.tensor([0.25]), zero)  # shift right by one pixel (0.25 of the width)
    assert torch.allclose(_warp(x, right, 0.0, "reflect")[0, 0, 0], torch.tensor([0.0, 0.0, 1.0, 2.0]))  # d c b a | a b c d
    assert torch.allclose(_warp(x, right, 0.0, "nearest")[0, 0, 0], torch.tensor([0.0, 0.0, 1.0, 2.0]))
    assert torch.allclose(_warp(x, right, 0.0, "constant")[0, 0, 0], torch.tensor([0.0, 0.0, 1.0, 2.0]))
    two = _matrix(one, zero, torch.tensor([0.5]), zero)  # two pixels: the mirror shows b a, the edge a a
    assert torch.allclose(_warp(x, two, 0.0, "reflect")[0, 0, 0], torch.tensor([1.0, 0.0, 0.0, 1.0]))
    assert torch.allclose(_warp(x, two, 0.0, "nearest")[0, 0, 0], torch.tensor([0.0, 0.0, 0.0, 1.0]))
    assert torch.allclose(_warp(x + 1, two, 0.5, "constant")[0, 0, 0], torch.tensor([0.5, 0.5, 1.0, 2.0]))


def test_affine_ops_fuse_only_with_the_same_fill_mode():
    p = Pipeline.from_config([{"name": "rotation"}, {"name": "translate"}, {"name": "rotation", "fill_mode": "reflect"}])
    assert [len(run) for run in p._runs] == [2, 1]


def test_scale_zooms_about_the_centre():
    from lightcnn.augment.geometric import _matrix, _warp

    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 3:5, 3:5] = 1.0  # a 2x2 square in the middle
    half, zero = torch.tensor([0.5]), torch.zeros(1)
    twice = _warp(x, _matrix(half, zero, zero, zero), 0.0)  # output (u, v) samples the input at (u/2, v/2): zoom x2
    assert (twice > 0.4).sum() == 16 and twice[0, 0, 2:6, 2:6].min() > 0.5 and twice[0, 0, 0].max() == 0  # 2x2 -> 4x4
    drawn = AUGMENTATIONS.get("scale")(fraction=0.2).draw(300, gen(), torch.device("cpu"))
    zoom = 1 / drawn[:, 0, 0]
    assert zoom.min() >= 0.8 - 1e-6 and zoom.max() <= 1.2 + 1e-6 and torch.equal(drawn[:, 0, 0], drawn[:, 1, 1])
    assert torch.all(drawn[:, 0, 1] == 0) and torch.all(drawn[:, :2, 2] == 0)


@pytest.mark.parametrize("entries, says", [
    ([{"name": "random_crop", "size": 40, "padding": 2}], "data.augment[0]): size=40 is larger than the 28-px images padded by 2 on each side (32 px)"),
    ([{"name": "random_crop", "padding": 28, "padding_mode": "reflect"}], "padding=28 with padding_mode reflect must be smaller than the 28-px images"),
    ([{"name": "cutout", "size": 28}], "data.augment[0]): size=28 is not smaller than the 28-px images"),
    # each op is checked against what the ops before it hand on: a 20-px crop, then a 20-px cutout
    ([{"name": "random_crop", "size": 20, "padding": 0}, {"name": "cutout", "size": 20}], "data.augment[1]): size=20 is not smaller than the 20-px"),
])
def test_ops_that_cannot_work_on_the_images_are_refused_when_built(entries, says):
    with pytest.raises(LightCNNError) as err:
        Pipeline.from_config(entries, size=28)
    assert says in str(err.value)


def test_ops_that_fit_are_built_and_run_at_their_limits():
    pipe = Pipeline.from_config([{"name": "random_crop", "size": 32, "padding": 2}, {"name": "cutout", "size": 31},
                                 {"name": "random_crop", "padding": 27, "padding_mode": "reflect"}], size=28)
    out = pipe(torch.rand(4, 1, 28, 28), torch.Generator().manual_seed(0))
    assert out.shape == (4, 1, 32, 32)
