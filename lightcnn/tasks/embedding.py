"""Metric embedding: backbone + projection, L2-normalised, MultiSimilarity loss, retrieval metrics."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

from torchmetrics.aggregation import CatMetric

from lightcnn.errors import LightCNNError
from lightcnn.metrics import retrieval_by_group
from lightcnn.outputs import EmbeddingOutputs
from lightcnn.registry import TASKS
from lightcnn.report.sections import embedding_sections
from lightcnn.report.spec import ReportSpec
from lightcnn.tasks.batch import task_batch
from lightcnn.tasks.base import BaseTask

Batch = tuple[torch.Tensor, torch.Tensor]


@TASKS.register()
class EmbeddingTask(BaseTask):
    """Learn an embedding where images of one class are close (cosine similarity).

    The defaults reproduce the labs' tensorflow-similarity set-up: MultiSimilarity loss with
    alpha 2, beta 40, base 0.5, a MultiSimilarity miner with epsilon 0.1, 64-d embeddings.

    Args:
        embedding_dim: size of the L2-normalised embedding.
        alpha, beta, base: pytorch-metric-learning ``MultiSimilarityLoss`` parameters.
        miner: mine pairs with ``MultiSimilarityMiner(epsilon=miner_epsilon)`` before the loss.
        baselines: at test, also report the metrics of raw pixels and of this net untrained
            (its weights at construction, before any training), under ``test/baseline_pixels/...``
            and ``test/baseline_untrained/...``.
        **kwargs: see ``BaseTask``.

    Validation and test log ``{stage}/{group}/{metric}`` for the groups ``seen``, ``heldout`` (the
    DataModule's held-out classes, if any) and ``all``: precision@1 (``p_at_1``), R-precision,
    MAP@R (``map_at_r``), NMI and AMI. Each group is evaluated leave-one-out within the split's own
    images of that group. ``{stage}/map_at_r`` is the held-out MAP@R when classes are held out
    (else all); the best checkpoint maximises ``val/map_at_r``. Train batches should be per-class
    (``data.m_per_class``): the loss needs positive pairs. ``outputs[stage]`` is an
    ``EmbeddingOutputs`` (all ranks' embeddings, gathered by torchmetrics) after each evaluation.
    """

    monitor, monitor_mode = "val/map_at_r", "max"
    fixed_classes = False  # an embedding has no per-class outputs: it may embed another dataset's classes
    report_spec = ReportSpec(
        curves=(("loss", ("train/loss_epoch",)), ("MAP@R", ("val/seen/map_at_r", "val/heldout/map_at_r", "val/all/map_at_r"))),
        overfit=("val/map_at_r", "max"),
        gap=None,
        epoch_table=("train/loss_epoch", "val/map_at_r", "time/epoch_s"),
        scores=("val/map_at_r", "test/map_at_r", "test/seen/map_at_r", "test/heldout/p_at_1", "test/all/map_at_r"),
        sections=(embedding_sections,),
        metrics=tuple(f"{s}/{g}/{m}" for s in ("val", "test") for g in ("seen", "heldout", "all")
                      for m in ("p_at_1", "r_precision", "map_at_r", "nmi", "ami")),
    )

    def __init__(
        self,
        embedding_dim: int = 64,
        alpha: float = 2.0,
        beta: float = 40.0,
        base: float = 0.5,
        miner: bool = True,
        miner_epsilon: float = 0.1,
        baselines: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from pytorch_metric_learning import losses, miners

        if embedding_dim < 1 or alpha <= 0 or beta <= 0 or miner_epsilon < 0:
            raise LightCNNError(
                f"model: need embedding_dim >= 1, alpha > 0, beta > 0, miner_epsilon >= 0; got "
                f"{embedding_dim}, {alpha}, {beta}, {miner_epsilon}"
            )
        self.head = nn.Linear(self.backbone.num_features, embedding_dim)
        self.loss_fn = losses.MultiSimilarityLoss(alpha=alpha, beta=beta, base=base)
        self.miner = miners.MultiSimilarityMiner(epsilon=miner_epsilon) if miner else None
        # The untrained net, kept out of the module tree so it is not trained, saved or moved.
        self._untrained = [copy.deepcopy(nn.ModuleDict({"backbone": self.backbone, "head": self.head})).eval()] if baselines else []
        # Evaluation embeddings per stage, gathered across ranks by torchmetrics (dist_reduce_fx="cat").
        sources = ("emb", "y", "untrained", "pixels") if baselines else ("emb", "y")
        self.collected = nn.ModuleDict({
            stage: nn.ModuleDict({k: CatMetric(nan_strategy="disable") for k in sources}) for stage in ("val", "test")
        })

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings ``(B, embedding_dim)`` of images ``(B, C, H, W)`` in [0, 1]."""
        return F.normalize(self.head(self.features(x)), dim=1)

    deploy_output_name = "embedding"  # deploy_outputs: forward, the unit-length embedding

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, y = task_batch(self, batch, "train")
        emb = self(x)
        pairs = self.miner(emb, y) if self.miner is not None else None
        loss = self.loss_fn(emb, y, pairs)
        self.log_train_loss(loss)
        return loss

    def _collect(self, stage: str, batch: Batch) -> None:
        x, y = task_batch(self, batch, stage)
        store = self.collected[stage]
        store["emb"].update(self(x))
        store["y"].update(y)
        if stage == "test" and self._untrained:
            net = self._untrained[0].to(x.device)
            normalised = self.normalize(x)  # both baselines see the images as the trained net does
            with torch.no_grad():
                store["untrained"].update(F.normalize(net["head"](net["backbone"](normalised)), dim=1))
            store["pixels"].update(F.normalize(normalised.flatten(1), dim=1))

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._collect("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._collect("test", batch)

    def predict_step(self, batch: tuple, batch_idx: int) -> dict[str, Any]:
        x, y, index, inputs = self.unpack_predict_batch(batch)
        return {"embedding": self(x), "target": y, "index": index, "input": inputs}

    def _explain_nan(self, stage: str, y: torch.Tensor, group: list[int]) -> None:
        """Say why ``{stage}/map_at_r`` is NaN: every query needs another image of its class."""
        counts = torch.bincount(y, minlength=self.num_classes)
        short = [f"{self.class_names[c]} ({int(counts[c])})" for c in group if counts[c] < 2]
        rank_zero_warn(f"{stage}/map_at_r is NaN: retrieval needs at least 2 {stage} images of a class (a query and "
                       f"one to find), and these classes have fewer: {', '.join(short[:10])}"
                       f"{' ...' if len(short) > 10 else ''}; give the split more images (data.val_size / split)")

    def _epoch_end(self, stage: str) -> None:
        store = self.collected[stage]
        if not store["emb"].update_count:
            return
        gathered = {k: m.compute() for k, m in store.items() if m.update_count}  # every rank's rows, by torchmetrics
        for m in store.values():
            m.reset()
        heldout = list(self.data_info.heldout_class_ids)
        emb, y = gathered["emb"].detach().cpu(), gathered["y"].detach().cpu().long()
        sources = {"": emb}
        if "untrained" in gathered:
            sources |= {"baseline_untrained/": gathered["untrained"].cpu(), "baseline_pixels/": gathered["pixels"].cpu()}
        scalars: dict[str, float] = {}
        retrieval: dict[str, dict[str, dict[str, float]]] = {}
        for prefix, e in sources.items():
            groups = retrieval_by_group(e.detach().float(), y, heldout)
            retrieval[prefix.rstrip("/")] = groups
            scalars |= {f"{stage}/{prefix}{g}/{k}": v for g, res in groups.items() for k, v in res.items()}
        scalars[f"{stage}/map_at_r"] = scalars[f"{stage}/{'heldout' if heldout else 'all'}/map_at_r"]
        if math.isnan(scalars[f"{stage}/map_at_r"]):
            self._explain_nan(stage, y, heldout or list(range(self.num_classes)))
        self.outputs[stage] = EmbeddingOutputs(stage, self.class_names, emb, y, heldout, retrieval)
        self.log_epoch_scalars(stage, "map_at_r", scalars)  # every rank computed them from the gathered embeddings
