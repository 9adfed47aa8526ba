"""Ctrl-C and SIGTERM as one exception, and the exit status each one owes the shell.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM kill the process where it stands, so a
`kill` (or a service manager stopping us) printed nothing of what was and was not written. Both now
raise a KeyboardInterrupt at the next bytecode, every loop that writes catches it the same way, and the
CLI exits 128 + the signal's number (130, 143), as a shell reports a process killed by it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program stands, like Ctrl-C."""


def exit_status(exc: BaseException) -> int:
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def install() -> None:
    """In the main process of a command: SIGTERM raises `Terminated` (SIGINT keeps Python's KeyboardInterrupt)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def restore_default() -> None:
    """In a worker process: a SIGTERM from the pool ends it at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done: a file write is then whole or not begun, never half,
    and no temporary copy is left behind.

    The handlers are swapped for one that only notes the signal, then restored, and a noted signal is raised
    again, so it does what it would have done (KeyboardInterrupt, `Terminated`, or the default kill). Blocking
    at the OS level is not enough: a signal that reached Python's C handler just before would still run its
    Python handler inside the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs handlers on the main thread only
        return
    noted: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: noted.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)  # None: set outside Python
        if noted:
            signal.raise_signal(noted[0])
