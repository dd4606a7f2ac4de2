"""The device side of lightcnn's DataModules: uint8 batches become float images in [0, 1] and are
augmented on the model's device, from seeded generators whose state checkpoints keep."""

from __future__ import annotations

import torch


class AugmentOnDevice:
    """Mixin for a LightningDataModule with ``augment`` (a ``Pipeline`` or None),
    ``augment_seed``, ``mean``/``std`` and a ``_generators`` dict."""

    def generator(self, device: torch.device) -> torch.Generator:
        """The augmentation generator for ``device``, seeded with ``augment_seed`` on first use."""
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.augment_seed)
        return self._generators[device]

    def on_after_batch_transfer(self, batch: tuple, dataloader_idx: int) -> tuple:
        """uint8 images -> float in [0, 1] -> [augmented in training], on the model's device
        (moving uint8 is 4x cheaper than float). Normalisation is the model's (it is saved in
        its checkpoints), not done here."""
        x, y, *rest = batch  # predict batches carry indices and input names
        x = x.float().div_(255)
        if self.augment is not None:
            training = self.trainer is not None and self.trainer.training
            if training and self.augment.needs_index and rest:  # the training loader added indices for the pipeline
                x = self.augment(x, self.generator(x.device), rest.pop(0), self.trainer.current_epoch)
            else:
                x = self.augment(x, self.generator(x.device)) if training else self.augment.eval_transform(x)
        return (x, y, *rest)

    def state_dict(self) -> dict:
        """Normalisation statistics and the augmentation generators' states (so a resumed run
        draws what an uninterrupted one would)."""
        gens = {str(d): g.get_state() for d, g in self._generators.items()}
        return {"mean": self.mean, "std": self.std, "augment_generators": gens}

    def load_state_dict(self, state_dict: dict) -> None:
        self.mean, self.std = state_dict.get("mean", self.mean), state_dict.get("std", self.std)
        for device, state in state_dict.get("augment_generators", {}).items():
            self.generator(torch.device(device)).set_state(state)
