"""Reading Singer input: the SDK's reader, quiet about the lines it cannot parse, and aware of signals."""

from __future__ import annotations

import io
import json
import re
import sys
import typing as t

from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine, SingerReadError
from singer_sdk.singerlib.json import deserialize_json

from target_kissmetrics.interrupt import StopRequest

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

STOPPED = "the run stopped there and no STATE was emitted past it"


def input_error_line(exc: Exception) -> str | None:
    """One line for broken Singer input the SDK reports (never quoting the line: it may hold an email)."""
    text = str(exc)
    if isinstance(exc, SingerReadError):
        if text.startswith("Unable to parse line as JSON"):
            return f"Invalid Singer input: a line is not valid JSON; {STOPPED}"
        missing = re.match(r"Line is missing required (.{1,80}?) key\(s\)", text)
        if missing:
            return f"Invalid Singer input: a message lacks its required {missing.group(1)} key(s); {STOPPED}"
        return f"Invalid Singer input: a line is not a Singer message; {STOPPED}"
    if isinstance(exc, RecordsWithoutSchemaException):
        stream = re.search(r"stream '(.{0,80}?)'", text)
        name = repr(stream.group(1)) if stream else "?"
        return f"Invalid Singer input: a RECORD for stream {name} came before its SCHEMA; {STOPPED}"
    if isinstance(exc, ValueError) and text.startswith("Unknown message type"):
        kind = re.match(r"Unknown message type '(.{0,40}?)'", text)
        return f"Invalid Singer input: unknown message type {kind.group(1) if kind else '?'!r}; {STOPPED}"
    return None


class QuietSingerReader(SingerReader):
    """The SDK's reader, minus its log of an unparsable line (the line may hold an email) and traceback.

    It also says when it is blocked reading input (the one moment a signal may stop the run at once),
    checks for a stop before each line, and runs ``on_start`` before the first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reading = False
        self.stop = StopRequest()
        self.on_start: Callable[[], None] | None = None

    def process_lines(
        self, file_input: t.IO[str] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> t.Counter[str]:
        lines = self._lines(file_input or self.default_input)
        return super().process_lines(t.cast("t.IO[str]", lines), callbacks)

    def _lines(self, source: Iterable[str]) -> Iterator[str]:
        self.stop.check()
        if self.on_start is not None:
            self.on_start()
        lines = iter(source)
        while True:
            self.stop.check()
            self.reading = True
            try:
                line = next(lines)
            except StopIteration:
                return
            finally:
                self.reading = False
            yield line

    def deserialize_json(self, line: str) -> dict:
        try:
            return deserialize_json(line)
        except json.JSONDecodeError:
            raise InvalidInputLine("Unable to parse line as JSON") from None

    @property
    def default_input(self) -> t.IO[str]:  # type: ignore[override]
        """stdin read 1 MiB at a time rather than 8 KiB: each read releases the GIL, and getting it back
        from busy delivery threads can take a whole switch interval (5 ms), so with 8 KiB reads this
        thread spent more time waiting than parsing."""
        return large_buffer_stdin()


def large_buffer_stdin() -> t.IO[str]:
    """``sys.stdin`` with a 1 MiB buffer (``sys.stdin`` itself when it is not a file descriptor)."""
    stdin = sys.stdin
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return stdin
    raw = io.FileIO(fd, "rb", closefd=False)
    return io.TextIOWrapper(
        io.BufferedReader(raw, 1 << 20), encoding=stdin.encoding or "utf-8", errors=stdin.errors
    )
