"""keras-tuner's chief/worker mode: one chief runs the oracle, workers run trials.

keras-tuner reads its role from environment variables when a tuner is made, and its
gRPC client and server are chosen when it is imported, so ``configure`` runs first.
"""

from __future__ import annotations

import os

from builder.errors import ArgumentError

#: Seconds after which the chief takes back the trial of a worker that stopped
#: reporting (tuning/lease.py; a running worker reports every 5 s).
TRIAL_TIMEOUT = 60


def parse_address(text: str, argument: str) -> tuple[str, int]:
    """``"HOST:PORT"`` -> (host, port); ``argument`` names where it came from."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ArgumentError(f"{argument}={text!r}: write HOST:PORT, e.g. 127.0.0.1:8000",
                            arguments=(argument,))
    return host, int(port)


def configure(chief: str | None = None, worker: str | None = None) -> str | None:
    """Set the KERASTUNER_* variables for ``--chief HOST:PORT`` or ``--worker HOST:PORT``;
    returns the role ("chief", "worker" or None). A worker's id is
    ``$KERASTUNER_TUNER_ID`` where set (give a restarted worker the same id so that it
    takes up its interrupted trial), else ``worker-<pid>``."""
    if chief and worker:
        raise ArgumentError("`chief` and `worker` exclude each other: start one process of "
                            "each", arguments=("chief", "worker"))
    if not chief and not worker:
        return None
    host, port = parse_address(chief or worker, "chief" if chief else "worker")
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
    if chief:
        os.environ["KERASTUNER_TUNER_ID"] = "chief"
        return "chief"
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    if not tuner_id or "chief" in tuner_id:
        os.environ["KERASTUNER_TUNER_ID"] = f"worker-{os.getpid()}"
    return "worker"
