"""A distributed sweep that outlives a lost worker.

keras-tuner's chief hands a trial to a worker and waits for that worker to end it; at
the end of the search it waits for every worker it has seen to ask for more. A worker
that dies mid-trial does neither, and the chief waits forever. Here every trial is a
lease: a worker running a trial says so every ``HEARTBEAT_SECONDS`` (``Heartbeat``, a
``get_trial`` call to the chief), and the chief's oracle (``LeasedOracle``) takes back a
trial whose worker has not been heard from for ``lease_seconds``: the first time it is
given to the next worker that asks (under any id, a restarted worker included), the
second time it ends as failed with the reason. The lost worker is forgotten, so the
search ends without it.
"""

from __future__ import annotations

import collections
import threading
import time

import keras_tuner as kt
from keras_tuner.src.distribute import utils as roles
from keras_tuner.src.engine import trial as trial_module

HEARTBEAT_SECONDS = 5


class LeasedOracle:
    """Mixed into a keras-tuner oracle (the chief's): trials as leases (see the module)."""

    lease_seconds: float | None = None   # None: no lease (a lone process)

    def _heard_of(self) -> dict:
        if not hasattr(self, "_heard"):
            self._heard, self._taken_back = {}, collections.Counter()
        return self._heard

    def _hear(self, tuner_id) -> None:
        self._heard_of()[tuner_id] = time.monotonic()

    def _hear_trial(self, trial_id) -> None:
        for tuner_id, trial in list(self.ongoing_trials.items()):
            if trial.trial_id == trial_id:
                self._hear(tuner_id)

    @kt.synchronized
    def create_trial(self, tuner_id):
        self._hear(tuner_id)
        return super().create_trial(tuner_id)

    @kt.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        self._hear_trial(trial_id)
        return super().update_trial(trial_id, metrics, step=step)

    def get_trial(self, trial_id):
        self._hear_trial(trial_id)  # a worker's heartbeat
        return super().get_trial(trial_id)

    @kt.synchronized
    def take_back(self, now: float | None = None) -> list[str]:
        """Take back the trials whose worker has been silent for ``lease_seconds``;
        returns their ids."""
        if self.lease_seconds is None:
            return []
        now = time.monotonic() if now is None else now
        heard, taken = self._heard_of(), []
        for tuner_id, trial in list(self.ongoing_trials.items()):
            if now - heard.get(tuner_id, now) <= self.lease_seconds:
                continue
            del self.ongoing_trials[tuner_id]
            self.tuner_ids.discard(tuner_id)
            heard.pop(tuner_id, None)
            self._taken_back[trial.trial_id] += 1
            why = f"worker {tuner_id} stopped reporting for {self.lease_seconds:.0f} s"
            if self._taken_back[trial.trial_id] == 1 and self.tuner_ids:
                trial.status, trial.message = trial_module.TrialStatus.IDLE, why
                self._retry_queue.append(trial.trial_id)
            else:  # taken back before, or no worker left to give it to
                self._fail(trial, why)
            self.save()
            taken.append(trial.trial_id)
        return taken

    def _fail(self, trial, why: str) -> None:
        trial.status, trial.message = trial_module.TrialStatus.FAILED, why
        self.end_order.append(trial.trial_id)
        self._save_trial(trial)

    @kt.synchronized
    def fail_unfinished(self) -> None:
        """When the search has ended: the trials taken back that no worker asked for
        again end as failed (every trial is accounted for)."""
        while self._retry_queue:
            trial = self.trials[self._retry_queue.pop()]
            self._fail(trial, f"{trial.message}; no worker left to run it again")
        self.save()

    def keep_leases(self, lease_seconds: float) -> None:
        """Start taking back the trials of silent workers, in a daemon thread."""
        self.lease_seconds = lease_seconds

        def run():
            while True:
                time.sleep(max(1.0, lease_seconds / 4))
                self.take_back()

        threading.Thread(target=run, name="sweep-leases", daemon=True).start()


def is_worker() -> bool:
    """Whether this process is a worker of a distributed sweep."""
    return roles.has_chief_oracle() and not roles.is_chief_oracle()


class Heartbeat:
    """While a worker runs a trial: tell the chief every ``HEARTBEAT_SECONDS``."""

    def __init__(self, oracle, trial_id: str):
        self.oracle, self.trial_id = oracle, trial_id
        self.done = threading.Event()

    def __enter__(self):
        def run():
            while not self.done.wait(HEARTBEAT_SECONDS):
                try:
                    self.oracle.get_trial(self.trial_id)
                except Exception:  # the chief is gone or busy: the next beat may pass
                    pass

        threading.Thread(target=run, name="sweep-heartbeat", daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.done.set()
