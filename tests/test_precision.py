import pytest
import torch

from lightcnn import precision
from lightcnn.data import DataInfo
from lightcnn.data.cifar10 import CIFAR10DataModule
from lightcnn.errors import LightCNNError
from lightcnn.inference import embed_split
from lightcnn.tasks import EmbeddingTask
from tests.conftest import write_cifar_layout


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Pretend the CPU has (True) or lacks (False) native bfloat16 units."""
    def set_native(native: bool) -> None:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    return set_native


def test_auto_is_bf16_exactly_where_native(cpu_bf16):
    cpu_bf16(True)
    assert precision.native_bf16("cpu") and precision.resolve("auto") == "bf16"
    cpu_bf16(False)
    assert not precision.native_bf16("cpu") and precision.resolve("auto") == "32"
    assert precision.resolve("bf16") == "bf16" and precision.resolve("32") == "32"  # asked for: kept
    with pytest.raises(LightCNNError, match=r"--precision '16': valid are auto, 32, bf16"):
        precision.resolve("16")


def test_autocast_computes_in_bf16_only_when_asked():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with precision.autocast("bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with precision.autocast("32"):
        assert (a @ b).dtype == torch.float32


def test_note_only_for_emulated_bf16_on_cpu(cpu_bf16):
    cpu_bf16(False)
    note = precision.note_for_precision("bf16-mixed", "cpu")
    assert note.startswith("trainer.precision bf16-mixed: this CPU has no AMX or AVX512-BF16 units") and "--trainer.precision 32-true" in note
    assert precision.note_for_precision("32-true", "cpu") is None
    assert precision.note_for_precision(None, "auto") is None
    assert precision.note_for_precision("bf16-mixed", "gpu") is None  # about the GPU, not this CPU
    cpu_bf16(True)
    assert precision.note_for_precision("bf16-mixed", "cpu") is None


def test_embed_split_in_bf16_returns_float32_close_to_float32(tmp_path):
    write_cifar_layout(tmp_path)
    torch.manual_seed(0)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, batch_size=8, val_size=4)
    task = EmbeddingTask(backbone="embed_cnn", data=DataInfo(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)).eval()
    full, y32 = embed_split(task, dm, "test")
    half, y16 = embed_split(task, dm, "test", precision="bf16")
    assert half.dtype == torch.float32 and half.shape == full.shape and torch.equal(y16, y32)
    assert not torch.equal(half, full)  # really computed in bf16 ...
    cos = torch.nn.functional.cosine_similarity(half, full, dim=1)
    assert cos.min() > 0.99  # ... to within bf16's ~3 significant digits


def test_bf16_fit_trains_and_notes_an_emulating_cpu(mnist_root, tmp_path, cpu_bf16, capsys):
    from lightcnn.cli import main
    from tests.conftest import tiny_fit_args

    cpu_bf16(False)
    runs = tmp_path / "runs"
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), "--trainer.precision", "bf16-mixed"]) == 0
    err = capsys.readouterr().err
    assert "lightcnn: note: trainer.precision bf16-mixed: this CPU has no AMX or AVX512-BF16 units" in err
    (ckpt,) = runs.rglob("best.ckpt")
    weights = torch.load(ckpt, weights_only=True)["state_dict"]
    assert all(w.dtype in (torch.float32, torch.int64) for w in weights.values())  # mixed: the weights stay float32
    from lightcnn.inference import load_task

    # a channels_last run's task comes back channels_last outside the Trainer too (knn, embed, export)
    convs = [m.weight for m in load_task(ckpt).modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs)


@pytest.mark.parametrize("native", [True, False])
def test_native_bf16_plugin_autocasts_only_where_native(cpu_bf16, native, capsys):
    from lightcnn.precision_plugin import NativeBF16Precision

    cpu_bf16(native)
    plugin = NativeBF16Precision()
    assert plugin.precision == "32-true"  # until it sees the model's device
    net = torch.nn.Linear(8, 3)
    plugin.connect(net, [], [])
    with plugin.forward_context():
        out = net(torch.randn(4, 8))
    assert out.dtype == (torch.bfloat16 if native else torch.float32)
    assert plugin.precision == ("bf16-mixed" if native else "32-true")
    assert f"running in {plugin.precision}" in capsys.readouterr().err


def test_native_bf16_plugin_in_a_fit_and_its_conflict_with_trainer_precision(mnist_root, tmp_path, cpu_bf16, capsys):
    from lightcnn.cli import main
    from tests.conftest import tiny_fit_args

    cpu_bf16(True)
    runs = tmp_path / "runs"
    plugin = ["--trainer.plugins", "[{class_path: NativeBF16Precision}]"]
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), *plugin]) == 0
    assert "NativeBF16Precision: this CPU computes bfloat16 natively: running in bf16-mixed" in capsys.readouterr().err
    from lightcnn.checkpoint_io import AtomicCheckpointIO
    from lightcnn.cli import LightCNNCLI
    from lightcnn.precision_plugin import NativeBF16Precision

    built = LightCNNCLI([*tiny_fit_args(mnist_root, runs, epochs=1), *plugin], run=False).trainer.strategy
    assert isinstance(built.precision_plugin, NativeBF16Precision)
    assert isinstance(built.checkpoint_io, AtomicCheckpointIO)  # lightcnn's checkpoint writer kept beside the plugin
    assert main(["fit", *tiny_fit_args(mnist_root, runs, epochs=1), *plugin, "--trainer.precision", "32-true"]) == 2
    assert ("trainer.precision 32-true and trainer.plugins' NativeBF16Precision both set the precision: keep one"
            in capsys.readouterr().err)


def test_precision_and_a_precision_plugin_are_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    from lightcnn.cli import main
    from lightcnn.preflight import check_precision_choice
    from tests.conftest import REPO

    plugin = {"class_path": "lightcnn.precision_plugin.NativeBF16Precision"}
    with pytest.raises(LightCNNError, match=r"^trainer.precision 32-true and trainer.plugins' NativeBF16Precision both set"):
        check_precision_choice({"precision": "32-true", "plugins": [plugin]})
    check_precision_choice({"precision": None, "plugins": [plugin]})  # the plugin alone
    check_precision_choice({"precision": "bf16-mixed", "plugins": [{"class_path": "lightcnn.checkpoint_io.AtomicCheckpointIO"}]})
    check_precision_choice({"precision": "bf16-mixed", "plugins": "some_registered_name"})
    # a sweep says so for the file, before any trial runs or anything is written
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"base: {REPO / 'configs' / 'cifar10_fast.yaml'}\noverrides:\n  trainer.precision: 32-true\n"
                     f"variants:\n  a: {{}}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--config", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert f"{sweep}: overrides: trainer.precision 32-true and trainer.plugins' NativeBF16Precision both set the precision" in err
    assert not (tmp_path / "runs").exists()
