"""A trial leaves the worker's process as it found it: a DDP trial's process group closed (the
next trial would otherwise reuse it, with finished processes as peers) and the environment the
Trainer's launcher changed restored; torch.compile's caches and CUDA graphs dropped; a failure becomes one line plus the traceback in the folder."""

import os

import torch.distributed as dist

from lightcnn.sweep.trial import ERROR_FILE, TrialJob, run_trial
from tests.conftest import free_port


def test_process_group_closed_environment_restored_failure_recorded(tmp_path, monkeypatch):
    port = free_port()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    monkeypatch.setenv("KEEP_ME", "1")
    before = dict(os.environ)
    job = TrialJob(str(tmp_path / "missing.yaml"), [], str(tmp_path / "trial"), True, "test/acc")
    import torch

    compiled = torch.compile(lambda x: x * 2, backend="eager")
    compiled(torch.ones(2))  # a compiled frame cached in this process, as a compiled trial leaves one
    cached = torch._dynamo.convert_frame.FRAME_COUNTER
    out = run_trial(job)
    assert cached > 0 and torch._dynamo.convert_frame.FRAME_COUNTER == 0  # dynamo reset, its CUDA graphs dropped
    assert not dist.is_initialized()
    assert dict(os.environ) == before
    assert out.error == "--config " + str(tmp_path / "missing.yaml") + ": no such file" and out.value is None
    assert "LightCNNError" in (tmp_path / "trial" / ERROR_FILE).read_text()
