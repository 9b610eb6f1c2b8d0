"""The acceptance script's hard time cap: rows run in order, each under what is left of the cap.

A row that is running when the cap passes is stopped (SIGALRM raises OutOfTime inside it), the
rows after it are "not reached", and the table says so: a GPU lent for minutes gives a partial,
honest answer rather than none. OutOfTime is a BaseException so that a row's own `except
Exception` cannot swallow it; subprocess rows bound their children by `Budget.left()`.
"""

from __future__ import annotations

import signal
import time
from typing import Callable

# A row's outcome: ok (its checks passed, or it only reports), skipped (it would measure nothing
# here, said why), FAILED (a check failed), error (an exception), refused (a file it needs is
# absent), stopped (the cap passed while it ran), not reached.
PASSING = ("ok", "skipped")


class OutOfTime(BaseException):
    """The cap passed while a row was running."""


class Refused(Exception):
    """A row needs a file that is absent (or is not the expected one): one line naming the file
    and how to get it. The row is not run with anything else in its place."""


def one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


class Budget:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, name: str, row: Callable[[], dict]) -> dict:
        """Run `row` (returns its measurements, with "ok": False when one of its checks failed)
        under the remaining time; returns {"row", "status", "seconds", **measurements or "message"}."""
        if self.left() <= 0:
            return {"row": name, "status": "not reached", "seconds": 0.0}
        start = time.monotonic()

        def expire(signum, frame):
            raise OutOfTime

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.left())
        try:
            result = row()
            if "skipped" in result:
                out = {"status": "skipped", "message": result["skipped"]}
            else:
                out = {"status": "ok" if result.get("ok", True) else "FAILED", **result}
        except OutOfTime:
            out = {"status": "stopped", "message": f"the {self.seconds:.0f} s cap passed while it ran"}
        except Refused as exc:
            out = {"status": "refused", "message": str(exc)}
        except Exception as exc:  # one broken row must not hide the others
            out = {"status": "error", "message": one_line(exc)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return {"row": name, **out, "seconds": round(time.monotonic() - start, 2)}
