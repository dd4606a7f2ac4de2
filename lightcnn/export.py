"""A trained checkpoint as a self-contained inference graph: ONNX (through PyTorch's
``torch.export``-based exporter) and TorchScript, normalisation inside, so that images in [0, 1]
go in and class probabilities (or unit-length embeddings) come out, for any batch size.

    files = export_checkpoint("runs/mnist_fast/version_0/checkpoints/best.ckpt", out="export")
    check = verify(files, images)        # max |difference| and top-1 agreement against PyTorch

Beside each export, ``<stem>.json`` says what the graph expects and gives back (shape, dtype,
range, class names, the normalisation it applies, the opset).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lightcnn.cli_args import backbone_name
from lightcnn.errors import LightCNNError
from lightcnn.io import atomic_write

FORMATS = ("onnx", "torchscript")
DEFAULT_OPSET = MIN_OPSET = 18
INPUT_NAME = "image"
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
INSTALL = "pip install -e '.[export]'"


class Deployable(nn.Module):
    """The task's ``deploy_outputs``: what a deployed model answers for images ``(B, C, H, W)``
    in [0, 1] (class probabilities for a classifier, the embedding for an embedder)."""

    def __init__(self, task: nn.Module) -> None:
        super().__init__()
        self.task = task

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.task.deploy_outputs(image)


@dataclass
class Exported:
    """The files one export wrote and what its graph computes."""

    files: dict[str, Path]
    manifest: Path
    spec: dict[str, Any]
    model: Deployable = field(repr=False)


# what a file, not a folder, given to --out would end with: the export's own suffixes and their kin
FILE_SUFFIXES = frozenset({".onnx", ".pt", ".pth", ".ts", ".torchscript", ".json", ".ckpt", ".zip"})


def export_task(task: Any, out: str | Path, stem: str = "model", formats: tuple[str, ...] = FORMATS,
                opset: int = DEFAULT_OPSET, source: str | None = None) -> Exported:
    """Write ``task`` (a lightcnn task, in eval mode) as ``{out}/{stem}.onnx`` and/or
    ``{out}/{stem}.torchscript.pt`` plus ``{out}/{stem}.json``. Each file is written whole or not
    at all (through a temporary file in ``out``).

    Raises:
        LightCNNError: an unknown format, ``out`` is a file, a missing package (named with its
            install command), or the exporter refused the model (its first line).
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise LightCNNError(f"--format {','.join(formats) or '(empty)'}: valid formats are {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LightCNNError(f"--out {out}: is a file, not a folder")
    if not out.exists() and out.suffix.lower() in FILE_SUFFIXES:  # it would become a folder named like a file
        names = ", ".join(f"{stem}{SUFFIX[f]}" for f in formats)
        raise LightCNNError(f"--out {out}: names a file, but --out is the folder the export writes into ({names} and "
                            f"{stem}.json, named after the checkpoint): give a folder, e.g. --out {out.with_suffix('')}")
    model = Deployable(task.eval()).eval()
    info = task.data_info
    example = torch.rand(2, info.in_channels, info.image_size, info.image_size)
    with torch.no_grad():
        reference = model(example)
    spec = {
        "task": type(task).__name__,
        "backbone": backbone_name(task.hparams.get("backbone", type(task.backbone).__name__)),
        "checkpoint": source,
        "input": {"name": INPUT_NAME, "shape": ["batch", info.in_channels, info.image_size, info.image_size],
                  "dtype": "float32", "range": [0.0, 1.0], "layout": "NCHW",
                  "channels": "RGB" if info.in_channels == 3 else "grayscale" if info.in_channels == 1 else f"{info.in_channels} channels"},
        "output": {"name": task.deploy_output_name, "shape": ["batch", int(reference.shape[1])], "dtype": "float32"},
        "class_names": list(info.class_names),
        "normalization": {"mean": task.normalize.mean.flatten().tolist(), "std": task.normalize.std.flatten().tolist(),
                          "applied_inside": True},
        "formats": {},
    }
    out.mkdir(parents=True, exist_ok=True)
    files = {fmt: out / f"{stem}{SUFFIX[fmt]}" for fmt in formats}
    temporaries = {fmt: path.with_name(f".{path.name}.tmp{os.getpid()}") for fmt, path in files.items()}
    try:  # every file to a temporary name first: a failed format leaves no file of this export behind
        for fmt, tmp in temporaries.items():
            if fmt == "onnx":
                _write_onnx(model, example, tmp, opset, spec)
                spec["formats"]["onnx"] = {"file": files[fmt].name, "opset": opset}
            else:
                _write_torchscript(model, example, tmp)
                spec["formats"]["torchscript"] = {"file": files[fmt].name, "torch": torch.__version__}
        for fmt, tmp in temporaries.items():
            os.replace(tmp, files[fmt])
    finally:
        for tmp in temporaries.values():
            tmp.unlink(missing_ok=True)
    manifest = out / f"{stem}.json"
    with atomic_write(manifest) as f:
        json.dump(spec, f, indent=2)
    return Exported(files, manifest, spec, model)


def _write_onnx(model: nn.Module, example: torch.Tensor, path: Path, opset: int, spec: dict[str, Any]) -> None:
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError as err:
            raise LightCNNError(f"ONNX export needs the '{package}' package: {INSTALL}") from err
    import logging

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    batch = torch.export.Dim("batch", min=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model, (example,), dynamo=True, opset_version=opset, input_names=[INPUT_NAME],
                output_names=[spec["output"]["name"]], dynamic_shapes=({0: batch},), verbose=False,
            )
    except Exception as err:  # the exporter's own errors are many kinds; one line names the cause
        first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise LightCNNError(f"ONNX export of {spec['backbone']} failed: {first}") from err
    written = program.model.opset_imports.get("", program.model.opset_imports.get("ai.onnx"))
    if written != opset:  # the converter can fail quietly and keep its own opset: never label a file wrongly
        raise LightCNNError(f"ONNX export: opset {opset} was asked for but the exporter produced opset {written}; "
                            f"use --opset {MIN_OPSET} or higher (the torch.export-based exporter starts at {MIN_OPSET})")
    meta = {"lightcnn": json.dumps({k: spec[k] for k in ("task", "backbone", "input", "output", "class_names", "normalization")})}
    program.model.metadata_props.update(meta)
    program.save(str(path), external_data=False)


def _write_torchscript(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    try:
        with warnings.catch_warnings():
            # PyTorch marks TorchScript deprecated in favour of torch.export; it still loads everywhere
            # libtorch does (C++, mobile), which is why it is offered beside ONNX.
            warnings.simplefilter("ignore")
            # Tracing reads every attribute of the task, and a LightningModule's ``trainer`` raises
            # outside a Trainer unless ``_jit_is_scripting`` (what LightningModule.to_torchscript sets).
            lightning_modules = [m for m in model.modules() if hasattr(type(m), "_jit_is_scripting")]
            for m in lightning_modules:
                m._jit_is_scripting = True
            try:
                traced = torch.jit.trace(model, (example,), check_trace=False)
            finally:
                for m in lightning_modules:
                    del m._jit_is_scripting
            torch.jit.save(traced, str(path))
    except LightCNNError:
        raise
    except Exception as err:
        first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise LightCNNError(f"TorchScript export failed: {first}") from err


@torch.no_grad()
def verify(exported: Exported, images: torch.Tensor, batch_size: int = 256) -> dict[str, dict[str, float]]:
    """Run every written file on ``images`` (float32 in [0, 1]) and compare with PyTorch's
    outputs: ``{format: {"max_abs_diff", "top1_agree", "n"}}`` (top-1 of the outputs: the class
    for probabilities, the strongest dimension for an embedding)."""
    chunks = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    want = torch.cat([exported.model(c) for c in chunks])
    result: dict[str, dict[str, float]] = {}
    for fmt, path in exported.files.items():
        got = torch.cat([_runner(fmt, path)(c) for c in chunks])
        result[fmt] = {
            "max_abs_diff": float((got - want).abs().max()),
            "top1_agree": float((got.argmax(1) == want.argmax(1)).float().mean()),
            "n": len(images),
        }
    return result


def _runner(fmt: str, path: Path) -> Any:
    if fmt == "onnx":
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise LightCNNError(f"checking the ONNX file needs onnxruntime: {INSTALL}") from err
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(None, {INPUT_NAME: x.numpy()})[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path)).eval()
    return loaded
