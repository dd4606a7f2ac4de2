import pytest

import lightcnn.models  # noqa: F401  (registers the built-ins)
from lightcnn.errors import LightCNNError
from lightcnn.registry import BACKBONES, Registry


def test_register_get_contains_iterate():
    reg = Registry("widget")

    @reg.register()
    class Foo:
        pass

    @reg.register("bar_x")
    def bar():
        return 1

    assert reg.get("Foo") is Foo
    assert reg.get("bar_x") is bar
    assert "Foo" in reg and "bar" not in reg
    assert list(reg) == ["Foo", "bar_x"]
    assert len(reg) == 2


class Widget:
    pass


def test_find_by_registered_name_class_name_or_import_path():
    """What run records and checkpoints hold is the class (name or path), not the registered name."""
    reg = Registry("widget")
    reg.register("my_widget")(Widget)
    assert reg.find("my_widget") is reg.find("Widget") is reg.find(f"{__name__}.Widget") is Widget
    assert reg.find("Gadget") is None and reg.find("elsewhere.Widget") is None


def test_names_wildcards():
    reg = Registry("widget")
    for name in ("cifar10_base", "cifar100_cnn", "mnist_cnn"):
        reg.register(name)(type(name, (), {}))
    assert reg.names("cifar*") == ["cifar100_cnn", "cifar10_base"]
    assert reg.names("*cnn") == ["cifar100_cnn", "mnist_cnn"]
    assert reg.names("nothing*") == []


def test_duplicate_name_names_both_definitions():
    reg = Registry("widget")

    @reg.register("same")
    class First:
        pass

    with pytest.raises(LightCNNError) as err:

        @reg.register("same")
        class Second:
            pass

    msg = str(err.value)
    assert "duplicate widget name 'same'" in msg
    assert msg.count("test_registry.py:") == 2  # file:line of both definitions


def test_reregistering_the_same_definition_is_not_a_clash():
    reg = Registry("widget")

    class Foo:
        pass

    reg.register()(Foo)
    reg.register()(Foo)
    assert reg.get("Foo") is Foo


def test_unknown_name_lists_close_matches_and_plugin_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "extra").mkdir()
    monkeypatch.setenv("LIGHTCNN_PLUGIN_PATH", str(tmp_path / "extra"))
    with pytest.raises(LightCNNError) as err:
        BACKBONES.get("cifar10_bse")
    msg = str(err.value)
    assert "unknown backbone 'cifar10_bse'" in msg
    assert "cifar10_base" in msg
    assert str(tmp_path / "plugins") in msg and str(tmp_path / "extra") in msg


def test_timm_models_through_timms_listing():
    assert "timm/resnet18" in BACKBONES.names("timm/resnet1*")
    assert all(n.startswith("timm/resnet") for n in BACKBONES.names("timm/resnet*"))
    assert callable(BACKBONES.get("timm/resnet18"))
    with pytest.raises(LightCNNError, match="timm/resnet18"):
        BACKBONES.get("resnet18")  # bare name: suggests the timm one
