"""``lightcnn embed`` and ``lightcnn knn``: a trained embedder outside the Trainer."""

from __future__ import annotations

import argparse

import numpy as np

from lightcnn.commands.common import checkpoint_and_data
from lightcnn.errors import LightCNNError


def _add_precision(p: argparse.ArgumentParser) -> None:
    # the choices of lightcnn.precision.CHOICES, spelled out: that module imports torch, and
    # argument errors are answered before torch is imported
    p.add_argument("--precision", default="auto", choices=["auto", "32", "bf16"],
                   help="auto (default): bfloat16 where the CPU computes it natively (AMX, AVX512-BF16), else float32; 32; bf16")


def embed(argv: list[str]) -> int:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--split", default="test", choices=["train", "val", "test"])
        p.add_argument("--out", default="embeddings.npz", help="npz with embeddings, labels, class_names")
        _add_precision(p)

    a, task, dm = checkpoint_and_data("lightcnn embed", "Write a split's embeddings and labels.", argv, extra)
    from lightcnn.inference import embed_split, save_npz
    from lightcnn.io import check_file_target

    check_file_target(a.out, "--out")  # before the minutes of embedding, not after
    from lightcnn.precision import resolve

    emb, y = embed_split(task, dm, a.split, progress=True, precision=resolve(a.precision))
    save_npz(a.out, embeddings=emb.numpy(), labels=y.numpy(), class_names=np.array(dm.class_names),
             heldout=np.array(dm.data_info.heldout_class_ids, dtype=np.int64))
    print(f"wrote {a.out}: {tuple(emb.shape)} embeddings of the {a.split} split")
    return 0


def knn(argv: list[str]) -> int:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--k", type=int, default=5)
        p.add_argument("--reference", default="train", choices=["train", "val", "test"])
        p.add_argument("--query", default="test", choices=["train", "val", "test"])
        _add_precision(p)

    def check(a: argparse.Namespace) -> None:  # before anything is loaded or embedded (the upper bound needs the data)
        if a.k < 1:
            raise LightCNNError(f"--k must be between 1 and the number of references, got {a.k}")

    a, task, dm = checkpoint_and_data("lightcnn knn", "k-NN classification of one split against another.", argv, extra, check)
    from lightcnn.inference import embed_split, knn_classify
    from lightcnn.precision import resolve

    precision = resolve(a.precision)
    ref, ref_y = embed_split(task, dm, a.reference, progress=True, precision=precision)
    query, query_y = embed_split(task, dm, a.query, progress=True, precision=precision)
    pred = knn_classify(ref, ref_y, query, a.k, dm.num_classes)
    print(f"{a.k}-NN accuracy of {a.query} against {a.reference}: {(pred == query_y).float().mean():.4f} ({len(query_y)} images)")
    for c, name in enumerate(dm.class_names):
        m = query_y == c
        if m.any():
            print(f"  {name:>20}: {(pred[m] == c).float().mean():.4f} ({int(m.sum())})")
    return 0
