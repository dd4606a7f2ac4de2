"""lightcnn's own subcommands (beside LightningCLI's fit/validate/test/predict), one module each,
imported only when used so that ``lightcnn fit`` does not pay for them."""

from __future__ import annotations

import importlib

# name -> (module, function, one-line summary for ``lightcnn --help``); each function takes the
# remaining argv and returns an exit status.
COMMANDS = {
    "list": ("listing", "main", "registered backbones, datamodules, tasks, augmentations, callbacks"),
    "export": ("export", "main", "a checkpoint to ONNX and TorchScript, normalisation inside the graph"),
    "lr-find": ("lr_find", "main", "Lightning's learning-rate finder; writes a config with the suggested lr"),
    "sweep": ("sweep", "main", "variants, grids and Optuna searches of a config, one report"),
    "report": ("report", "report", "rebuild a run folder's report.md / report.html"),
    "compare": ("report", "compare", "compare run folders: table, curves, per-class F1"),
    "embed": ("embed", "embed", "write a split's embeddings and labels (npz)"),
    "knn": ("embed", "knn", "k-NN classification of one split against another"),
    "visualize": ("visualize", "main", "conv filters and feature maps of a checkpoint"),
    "coarse": ("coarse", "main", "CIFAR-100 fine predictions mapped to the 20 superclasses"),
    "preview-augment": ("preview", "main", "a grid of augmented training images"),
    "summary": ("summary", "main", "a config's model layer by layer, Keras-style: output shapes, (non-)trainable counts"),
}

# LightningCLI's subcommands, as ``lightcnn --help`` describes them.
TRAINER_COMMANDS = {
    "fit": "train (and with --test true, then test the best checkpoint)",
    "validate": "one evaluation epoch over the validation set",
    "test": "evaluate a checkpoint on the test set",
    "predict": "predictions for a split or for image files / folders",
}


def run_command(name: str, argv: list[str]) -> int:
    """Run subcommand ``name`` with ``argv``; return its exit status."""
    module, function, _ = COMMANDS[name]
    return getattr(importlib.import_module(f"lightcnn.commands.{module}"), function)(argv)
