"""Ctrl-C and SIGTERM as one exception, and the exit status each one owes the shell.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM kill the process where it stands, so a
`kill` (or a service manager stopping us) printed nothing of what was and was not written. Both now
raise a KeyboardInterrupt at the next bytecode, every loop that writes catches it the same way, and the
CLI exits 128 + the signal's number (130, 143), as a shell reports a process killed by it.
"""

from __future__ import annotations

import signal
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
