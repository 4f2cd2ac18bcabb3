"""The job's coordination service, in a process of its own beside the chief (cluster.py).

JAX's distributed runtime keeps its coordination service (liveness, key-value store,
barriers) inside process 0; when that process dies, every other process's client aborts
at once (exit 134) before anything of ours can run. Served from here, apart, the service
outlives the chief: the other processes see it gone (``cluster.watch``) and end with one
line, as they do when any other process dies. It runs in JAX's recoverable mode, so that
a dead process is reported to whoever asks instead of aborting everyone.

``python -m builder.training.coordinator HOST:PORT PROCESSES HEARTBEAT LINGER`` serves on
every address of this host at PORT and prints ``ready`` (or ``error: ...`` and exits 1).
When its standard input closes (the chief ended, whichever way) it serves on while any
process is still connected (the others finishing, or seeing the chief gone and ending),
at most ``LINGER`` seconds, then ends. Where the connections cannot be counted (no
Linux ``/proc/net``) it serves the whole ``LINGER`` seconds.
"""

from __future__ import annotations

import os
import sys
import time

#: The service: it serves while referenced.
_SERVING: list = []


def serve(address: str, processes: int, heartbeat: int, linger: float) -> int:
    port = int(address.rpartition(":")[2])
    try:
        from jax._src.lib import _jax  # the runtime's service, without a client of its own

        _SERVING.append(_jax.get_distributed_runtime_service(
            f"[::]:{port}", processes, heartbeat_timeout=heartbeat, recoverable=True))
    except Exception as e:  # the port, the address: said to the chief in one line
        print(f"error: {str(e).strip().splitlines()[0][:200]}", flush=True)
        return 1
    print("ready", flush=True)
    sys.stdin.read()  # until the chief ends
    _until_alone(port, linger)
    os._exit(0)  # without the service's shutdown, which waits for every client


def _until_alone(port: int, seconds: float) -> None:
    """Wait until no process has been connected to ``port`` for two checks in a row, at
    most ``seconds``."""
    deadline, quiet = time.monotonic() + seconds, 0
    while time.monotonic() < deadline and quiet < 2:
        quiet = quiet + 1 if connections(port) == 0 else 0
        time.sleep(0.5)


def connections(port: int) -> int | None:
    """Established TCP connections to ``port`` on this host (Linux's ``/proc/net``);
    ``None`` where that cannot be read."""
    count, read = 0, False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                rows = [row.split() for row in f.read().splitlines()[1:]]
        except OSError:
            continue
        read = True
        count += sum(row[1].endswith(f":{port:04X}") and row[3] == "01" for row in rows)
    return count if read else None


if __name__ == "__main__":
    where, count_, beat, stay = sys.argv[1:5]
    sys.exit(serve(where, int(count_), int(beat), float(stay)))
