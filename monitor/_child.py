"""Starting the child so that it never outlives numbat-run, and ending it when asked.

The child is started with ``subprocess.Popen`` and a ``preexec_fn`` that runs in the
forked child before ``exec``: it restores the signal mask numbat-run had before it
blocked the signals it waits for (a blocked mask survives ``exec``), and on Linux asks
the kernel for SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so that a
numbat-run killed with SIGKILL takes the child with it. If numbat-run died before that
request took hold, the child sends itself the same SIGTERM. The parent-death signal
survives ``exec`` and follows the thread that forked: the main thread, which lives as
long as numbat-run.

``preexec_fn`` is unsafe in a process with threads (the fork copies locks other threads
may hold); numbat-run starts the child before any thread of its own (the emitter's
sender, the output pumps), and :func:`spawn` refuses to run otherwise.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence

#: linux/prctl.h
PR_SET_PDEATHSIG = 1
#: The signal the child gets when numbat-run dies: what a supervisor sends to stop it.
PARENT_DEATH_SIGNAL = signal.SIGTERM


def command_line(command: Sequence[str], shell: bool) -> list[str]:
    """The argv to exec: ``command`` itself, or ``/bin/sh -c 'COMMAND...'`` when asked."""
    if shell:
        return ["/bin/sh", "-c", " ".join(command)]
    return list(command)


def describe(command: Sequence[str]) -> str:
    return shlex.join(command)


def _parent_death_request() -> Callable[[], None] | None:
    """A call that sets the parent-death signal, looked up here in the parent (loading a
    library is no work for a forked child); None where the kernel has no such thing."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return lambda: prctl(PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL))


def _prepare(mask: Iterable[signal.Signals], parent: int, set_death_signal: Callable[[], None] | None) -> None:
    """In the forked child, before ``exec``."""
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if set_death_signal is not None:
        set_death_signal()
        if os.getppid() != parent:  # numbat-run died before the request took hold
            os.kill(os.getpid(), PARENT_DEATH_SIGNAL)


def spawn(argv: Sequence[str], *, capture_output: bool, mask: Iterable[signal.Signals]) -> subprocess.Popen[bytes]:
    """Start ``argv`` with numbat-run's stdin, and its stdout and stderr unless
    ``capture_output`` (then pipes, which the output pumps copy through). ``mask`` is the
    signal mask the child starts with. Raises OSError when it cannot be run."""
    if threading.active_count() != 1:
        raise RuntimeError("the child must be started before any other thread (preexec_fn forks)")
    set_death_signal = _parent_death_request()
    mask = frozenset(mask)
    parent = os.getpid()
    pipe = subprocess.PIPE if capture_output else None
    return subprocess.Popen(
        argv,
        stdout=pipe,
        stderr=pipe,
        preexec_fn=lambda: _prepare(mask, parent, set_death_signal),  # noqa: PLW1509 - single-threaded, see above
        close_fds=True,
    )


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
