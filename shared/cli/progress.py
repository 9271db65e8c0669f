"""`[#####     ] 52% declarations 1560/3000` on stderr while a long read or send goes on.

On a terminal the line is redrawn in place. Off a terminal it is either silent (the operator
tool: a script piping `pension-ops report` wants only the report) or a line per tenth (the demo
feeder, so a CI log shows it is moving without growing long).
"""

from __future__ import annotations

import sys
from typing import Final, TextIO

BAR_WIDTH: Final = 30


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, *,
                 off_terminal: bool = True) -> None:
        self.label, self.total, self.done = label, total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.enabled = self.tty or off_terminal
        self._last_tenth = -1
        self._last_percent = -1

    def advance(self, count: int) -> None:
        self.update(self.done + count)

    def update(self, done: int) -> None:
        self.done = min(done, self.total) if self.total else done
        if not self.enabled:
            return
        percent = 100 * self.done // self.total if self.total else 100
        if percent == self._last_percent and self.done < self.total:
            return  # a redraw per percent is plenty, and cheap on a slow terminal
        self._last_percent = percent
        filled = BAR_WIDTH * percent // 100
        line = (f"[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {percent:3d}% "
                f"{self.label} {self.done}/{self.total}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done >= self.total else ""))
        elif percent // 10 != self._last_tenth:
            self._last_tenth = percent // 10
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """Complete the bar (a read can end below its estimate: markers and compaction)."""
        if self.done < self.total or (self.tty and self.total == 0):
            self.update(self.total)


def for_operator(label: str, as_json: bool) -> Progress | None:
    """The operator tool's progress: on a terminal only, and never with --json."""
    progress = Progress(label, 0, off_terminal=False)
    return None if as_json or not progress.tty else progress
