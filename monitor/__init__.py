"""numbat-run: a process monitor that starts a service and reports on it through the emitter.

It starts a command as its child, passes its input, output, signals and exit status
through, makes the kernel end the child when numbat-run itself dies, and sends numbat
events: spawn, start (the TCP ports it listens on), cpu, memory, threads, fds, processes
and uptime every interval, heartbeats with a ttl, exit and shutdown; optionally its
output lines and the host's load, memory and disk use.

Layout: :mod:`monitor.core` is the pure part (the events, the start rule, the line
bounds and rate limit, the clock handed in); the shell around it is ``_run.py`` (the
loop: signals, deadlines, events), ``_child.py`` (starting the child with its
parent-death signal), ``_probe.py`` (psutil readings), ``_output.py`` (the output
pumps of ``--logs``), ``_options.py`` (every bound, named) and ``cli.py`` (the command).
Importing this package imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._options import RunOptions
    from ._run import run

__all__ = ["RunOptions", "run"]


def __getattr__(name: str) -> Any:
    """``RunOptions`` and ``run`` on first use: ``run`` brings psutil, which the package
    name alone should not."""
    if name == "RunOptions":
        from ._options import RunOptions  # noqa: PLC0415 - see the docstring

        return RunOptions
    if name == "run":
        from ._run import run  # noqa: PLC0415 - see the docstring

        return run
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
