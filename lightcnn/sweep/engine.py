"""A sweep worker: take the next trial from the shared Optuna study, run it, record it, repeat.

Any number of workers (processes on one machine, or on many with a database storage) run the
same command; the study is the only thing they share.

- **Claiming** a variant or grid trial: the worker adds a RUNNING trial for its key, then looks
  again; if another live trial of that key has a lower number (or one has finished), it marks its
  own as a duplicate and takes the next key. Trial numbers are handed out atomically by the
  storage, so exactly one claimant keeps each key, without a lock.
- **Liveness**: a running trial records its worker (host, pid and the process's start time) and a
  heartbeat. A trial whose worker is gone (same host: the process no longer exists; another host:
  no heartbeat for ``GRACE_S``) was interrupted: it is marked failed and run again.
- **Rerunning the command** skips finished trials and redoes failed and interrupted ones; a trial
  that fails during a run is not retried in that run (the sweep goes on to the next).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightcnn.errors import LightCNNError
from lightcnn.sweep.check import Checked
from lightcnn.sweep.spec import SweepSpec, TrialPlan, to_args
from lightcnn.sweep.space import require_optuna
from lightcnn.sweep.trial import Outcome, TrialJob, run_trial

ATTEMPTS = ".attempts"  # earlier attempts of redone trials, in the sweep folder
HEARTBEAT_S = 15.0
GRACE_S = 120.0
PROC, BEAT, ERROR, INTERRUPTED, IGNORED = "lightcnn:proc", "lightcnn:heartbeat", "lightcnn:error", "lightcnn:interrupted", "lightcnn:ignored"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), "" where unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


@functools.cache
def _process_id(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def this_process() -> str:
    """``host:pid:start`` of this process (read once per process)."""
    return _process_id(os.getpid())


def alive(proc: str) -> bool | None:
    """Whether the worker ``host:pid:start`` still runs; None when it ran on another host."""
    host, pid_text, start = proc.rsplit(":", 2)
    pid = int(pid_text)
    if host != socket.gethostname():
        return None
    now = _start_time(pid)
    if start and now:
        return now == start  # a reused pid has another start time
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Worker:
    """Runs trials of one sweep until none is left for it.

    Args:
        spec, checked: the sweep file and what its checks learned (metric, direction).
        storage: the Optuna storage (``lightcnn.sweep.storage.open_storage``).
        extra: command-line overrides for every trial.
        on_trial: called after each trial (the sweep report is rebuilt there).
        say: where one-line progress messages go.
    """

    def __init__(self, spec: SweepSpec, checked: Checked, storage: Any, extra: list[str],
                 on_trial: Callable[[Any], None] = lambda study: None, say: Callable[[str], None] = print) -> None:
        self.optuna = require_optuna()
        self.spec, self.checked, self.storage, self.extra = spec, checked, storage, extra
        self.on_trial, self.say = on_trial, say
        search = spec.search
        self.study = self.optuna.create_study(
            study_name=spec.name, storage=storage, direction=checked.direction, load_if_exists=True,
            sampler=search.sampler if search else None, pruner=search.pruner if search else None,
        )
        self.study_id = storage.get_study_id_from_name(spec.name)
        self._check_study()
        self.first_number = len(self.study.get_trials(deepcopy=False))  # trials from this run on are "new"
        self.ran = 0

    def _check_study(self) -> None:
        attrs = self.study.user_attrs
        mine = {"lightcnn:metric": self.checked.metric, "lightcnn:mode": self.spec.mode}
        for key, value in mine.items():
            if key in attrs and attrs[key] != value:
                raise LightCNNError(
                    f"the study '{self.spec.name}' in this storage was started with {key.split(':')[1]} {attrs[key]}, this "
                    f"sweep file says {value}; give the sweep another name (name: in the file) or restore the file"
                )
            if key not in attrs:
                self.study.set_user_attr(key, value)
        if self.study.direction.name.lower() != self.checked.direction:
            raise LightCNNError(f"the study '{self.spec.name}' {self.study.direction.name.lower()}s its metric, this sweep "
                                f"says {self.checked.direction}; give the sweep another name")

    # ---- the study's view -------------------------------------------------------------------
    def trials(self) -> list[Any]:
        """The study's trials, after marking those of vanished workers as interrupted."""
        trials = self.study.get_trials(deepcopy=False)
        running = self.optuna.trial.TrialState.RUNNING
        stale = [t for t in trials if t.state == running and self._stale(t)]
        for t in stale:
            self._finish(self.storage.get_trial_id_from_study_id_trial_number(self.study_id, t.number), "FAIL", {INTERRUPTED: "its worker stopped before the trial ended"})
        return self.study.get_trials(deepcopy=False) if stale else trials

    def _stale(self, t: Any) -> bool:
        proc = t.system_attrs.get(PROC)
        if not proc:
            return False  # not a lightcnn worker's: not ours to judge
        state = alive(proc)
        return (state is False) or (state is None and time.time() - float(t.system_attrs.get(BEAT, 0)) > GRACE_S)

    def _counts(self, t: Any, key: str | None = None) -> bool:
        """A live or finished (not ignored) trial, of ``key`` when given."""
        states = self.optuna.trial.TrialState
        if IGNORED in t.system_attrs or (key is not None and t.user_attrs.get("key") != key):
            return False
        return t.state in (states.RUNNING, states.COMPLETE, states.PRUNED)

    def _earlier_claims(self, number: int, wait_s: float = 5.0) -> list[Any]:
        """Live or finished trials numbered before ``number``, once every one of them has its
        parameters: another worker asks, then suggests a moment later, and a claim checked in
        between would miss that its point is the same as this one."""
        deadline = time.time() + wait_s
        while True:
            others = [t for t in self.trials() if t.number < number and (self._counts(t) or self._failed_in_this_run(t))]
            pending = [t for t in others if not t.params and t.system_attrs.get(PROC) != this_process()]
            if not pending or time.time() > deadline:
                return others
            time.sleep(0.05)

    def _failed_in_this_run(self, t: Any, key: str | None = None) -> bool:
        states = self.optuna.trial.TrialState
        return (t.state == states.FAIL and t.number >= self.first_number and ERROR in t.system_attrs
                and (key is None or t.user_attrs.get("key") == key))

    def _finish(self, trial_id: int, state: str, attrs: dict[str, Any]) -> bool:
        try:
            for k, v in attrs.items():
                self.storage.set_trial_system_attr(trial_id, k, v)
            self.storage.set_trial_state_values(trial_id, getattr(self.optuna.trial.TrialState, state))
            return True
        except Exception:  # noqa: BLE001 - another worker finished it first: nothing to do
            return False

    # ---- running ----------------------------------------------------------------------------
    def run(self) -> int:
        """Run trials until none is left; return how many this worker ran."""
        if self.spec.search is None:
            self._run_plans()
        else:
            self._run_search()
        return self.ran

    def _run_plans(self) -> None:
        while True:
            trials = self.trials()
            todo = [p for p in self.spec.plans
                    if not any(self._counts(t, p.key) or self._failed_in_this_run(t, p.key) for t in trials)]
            if not todo:
                return
            plan = todo[0]
            trial_id, number = self._claim(plan)
            if any(t.number != number and self._counts(t, plan.key) and (t.state.is_finished() or t.number < number)
                   for t in self.trials()):
                self._finish(trial_id, "FAIL", {IGNORED: "duplicate: another worker took this trial"})
                continue
            self._run(trial_id, number, plan.key, plan.overrides | ({"seed_everything": plan.seed} if plan.seed is not None else {}), base=plan.base)

    def _claim(self, plan: TrialPlan) -> tuple[int, int]:
        template = self.optuna.trial.create_trial(
            state=self.optuna.trial.TrialState.RUNNING,
            user_attrs={"key": plan.key, "label": plan.label, "seed": plan.seed, **{f"param:{k}": v for k, v in plan.params.items()},
                        "overrides": json.dumps(plan.overrides, default=str)},
            system_attrs={PROC: this_process(), BEAT: time.time()},
        )
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        return trial_id, self.storage.get_trial_number_from_id(trial_id)

    def _run_search(self) -> None:
        budget = self.spec.search.trials
        repeats = 0
        while True:
            if sum(self._counts(t) or self._failed_in_this_run(t) for t in self.trials()) >= budget:
                return
            trial = self.study.ask()
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)
            self.storage.set_trial_system_attr(trial_id, PROC, this_process())
            self.storage.set_trial_system_attr(trial_id, BEAT, time.time())
            overrides = {}
            for param in self.spec.search.params:
                _, overrides[param.key] = param.suggest(trial)
            others = self._earlier_claims(trial.number)
            if len(others) >= budget:  # another worker took the last one meanwhile
                self._finish(trial_id, "FAIL", {IGNORED: "over the trial budget"})
                return
            if repeats < 3 and any(self._counts(t) and t.params == trial.params and t.system_attrs.get(PROC) != this_process()
                                   for t in others):
                # Another worker with the same seeded sampler (started beside this one, or earlier:
                # a rerun) draws the same points: this claim gives way and this worker's sampler
                # continues from a fresh random state. Three tries, for spaces with few points.
                self._finish(trial_id, "FAIL", {IGNORED: "duplicate: another worker ran these parameters"})
                self.study.sampler.reseed_rng()
                repeats += 1
                continue
            repeats = 0
            key = f"trial_{trial.number:03d}"
            for k, v in {"key": key, "label": key, "overrides": json.dumps(overrides, default=str)}.items():
                trial.set_user_attr(k, v)
            self._run(trial_id, trial.number, key, overrides, trial)

    def _run(self, trial_id: int, number: int, key: str, overrides: dict[str, Any], trial: Any = None, base: Path | None = None) -> Outcome:
        folder = self.spec.folder / key
        if folder.exists():  # an earlier, failed or interrupted attempt: kept aside, not deleted
            aside = self.spec.folder / ATTEMPTS / f"{key.replace('/', '-')}.{time.strftime('%Y%m%d-%H%M%S')}.{os.getpid()}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(aside)
        self.storage.set_trial_user_attr(trial_id, "dir", key)
        metric = self.checked.metric
        prune_on = None
        if trial is not None:
            prune_on = metric if metric.startswith("val/") else "val/" + metric.split("/", 1)[1]
        job = TrialJob(str(base or self.spec.base), [*to_args(self.spec.overrides | overrides), *self.extra], str(folder),
                       self.spec.test, metric, prune_on)
        shown = ([f"(base {base})"] if base else []) + to_args(overrides)
        self.say(f"lightcnn sweep {self.spec.name}: trial {number} {key}: {' '.join(shown) or '(base config)'}")
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(trial_id, stop), daemon=True)
        beat.start()
        try:
            out = run_trial(job, trial)
        except BaseException:  # SIGTERM (Lightning's SystemExit), Ctrl+C: the study says so now, not "running"
            self._finish(trial_id, "FAIL", {INTERRUPTED: "the sweep was stopped during the trial"})
            raise
        finally:
            stop.set()
            beat.join()
        self.ran += 1
        self._record(trial_id, number, key, out)
        self.on_trial(self.study)
        return out

    def _heartbeat(self, trial_id: int, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                self.storage.set_trial_system_attr(trial_id, BEAT, time.time())
            except Exception:  # noqa: BLE001 - the trial was finished meanwhile
                return

    def _record(self, trial_id: int, number: int, key: str, out: Outcome) -> None:
        self.storage.set_trial_user_attr(trial_id, "seconds", round(out.seconds, 3))
        states = self.optuna.trial.TrialState
        try:
            if out.error is not None:
                self.storage.set_trial_system_attr(trial_id, ERROR, out.error)
                self.study.tell(number, state=states.FAIL)
                self.say(f"lightcnn sweep {self.spec.name}: trial {number} {key} failed: {out.error}")
            elif out.pruned_at is not None:
                self.study.tell(number, state=states.PRUNED)
                self.say(f"lightcnn sweep {self.spec.name}: trial {number} {key} pruned after epoch {out.pruned_at}")
            else:
                self.study.tell(number, out.value)
                self.say(f"lightcnn sweep {self.spec.name}: trial {number} {key}: {self.checked.metric} {out.value:.4f} ({out.seconds:.1f} s)")
        except Exception as err:  # noqa: BLE001 - e.g. judged interrupted by another worker meanwhile
            self.say(f"lightcnn sweep {self.spec.name}: trial {number} {key}: could not record the result ({err})")
