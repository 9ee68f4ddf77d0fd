"""TargetKissmetrics: Singer records in, KISSmetrics events out, each counted once by KISSmetrics."""

from __future__ import annotations

import io
import json
import re
import sys
import typing as t

from singer_sdk import Target
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine, SingerReadError
from singer_sdk.singerlib.json import deserialize_json

from target_kissmetrics import __version__
from target_kissmetrics.errors import ConfigError, DeliveryFailed, InvalidInput, TargetKissmetricsError
from target_kissmetrics.events import record_key
from target_kissmetrics.journal import Journal
from target_kissmetrics.mapping import EventMapping, resolve_mappings
from target_kissmetrics.redact import install_redaction, redact
from target_kissmetrics.sdk_private import _ConfigInput
from target_kissmetrics.settings import CONFIG_SCHEMA, Settings
from target_kissmetrics.sinks import KissmetricsSink
from target_kissmetrics.summary import RunSummary
from target_kissmetrics.transport import Transport
from target_kissmetrics.validation import check_mapping

if t.TYPE_CHECKING:
    from pathlib import PurePath

    from singer_sdk.sinks import Sink


_STOPPED = "the run stopped there and no STATE was emitted past it"


def input_error_line(exc: Exception) -> str | None:
    """One line for broken Singer input the SDK reports (never quoting the line: it may hold an email)."""
    text = str(exc)
    if isinstance(exc, SingerReadError):
        if text.startswith("Unable to parse line as JSON"):
            return f"Invalid Singer input: a line is not valid JSON; {_STOPPED}"
        missing = re.match(r"Line is missing required (.{1,80}?) key\(s\)", text)
        if missing:
            return f"Invalid Singer input: a message lacks its required {missing.group(1)} key(s); {_STOPPED}"
        return f"Invalid Singer input: a line is not a Singer message; {_STOPPED}"
    if isinstance(exc, RecordsWithoutSchemaException):
        stream = re.search(r"stream '(.{0,80}?)'", text)
        name = repr(stream.group(1)) if stream else "?"
        return f"Invalid Singer input: a RECORD for stream {name} came before its SCHEMA; {_STOPPED}"
    if isinstance(exc, ValueError) and text.startswith("Unknown message type"):
        kind = re.match(r"Unknown message type '(.{0,40}?)'", text)
        return f"Invalid Singer input: unknown message type {kind.group(1) if kind else '?'!r}; {_STOPPED}"
    return None


class QuietSingerReader(SingerReader):
    """The SDK's reader, minus its log of an unparsable line (the line may hold an email) and traceback."""

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


class TargetKissmetrics(Target):
    """Delivers records as KISSmetrics events (``GET /e``), exactly once in KISSmetrics' view."""

    name = "target-kissmetrics"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = KissmetricsSink
    message_reader_class = QuietSingerReader

    def __init__(
        self,
        *,
        config: dict | PurePath | str | list[PurePath | str] | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            **kwargs,
        )
        self.settings = Settings.from_config(self.config)
        install_redaction([self.settings.api_key], [self.logger])
        self.mappings: dict[str, EventMapping] = resolve_mappings(self.config.get("event_mappings"))
        for mapping in self.mappings.values():
            check_mapping(mapping)
        self.summary = RunSummary()
        self.journal: Journal | None = None
        self.transport: Transport | None = None
        if not self.settings.dry_run:
            self.journal = Journal(self.settings.journal_path, self.settings.journal_retention_days)
            self.transport = Transport(
                self.settings.tracking_url,
                self.settings.api_key,
                max_concurrency=self.settings.max_concurrency,
                timeout_seconds=self.settings.timeout_seconds,
                max_retries=self.settings.max_retries,
                backoff_base_seconds=self.settings.backoff_base_seconds,
                user_agent=f"target-kissmetrics/{__version__}",
            )

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if stream_name not in self.mappings:
            known = ", ".join(sorted(self.mappings))
            raise ConfigError(
                f"stream {stream_name!r} has no event mapping; known streams: {known} "
                "(add one under the event_mappings setting)"
            )
        return KissmetricsSink

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        self.logger.info("%s", self.summary.line())
        self.close()

    def _process_record_message(self, message_dict: dict) -> None:
        try:
            super()._process_record_message(message_dict)
        except InvalidInput as exc:  # from the record validator: name the stream and the record key
            stream = str(message_dict.get("stream"))
            record = message_dict.get("record")
            mapping = self.mappings.get(stream)
            key = "?"
            if mapping is not None and mapping.key_fields and isinstance(record, dict):
                key = record_key(record, mapping.key_fields)
            raise InvalidInput(f"Invalid Singer input: {stream} record {key} {exc}; {_STOPPED}") from None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def failure_line(self, exc: TargetKissmetricsError) -> str:
        if isinstance(exc, DeliveryFailed):
            return (
                f"Delivery failed: {self.summary.failed} events were not delivered after retries; "
                f"no STATE was emitted past them ({exc})"
            )
        return str(exc)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: t.IO[str] | None = None,
    ) -> None:
        """As ``Target.invoke``, but our errors end the run with one clear line and exit code 1."""
        super(Target, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            target = cls(config=config.config, validate_config=True, parse_env_config=config.parse_env)
        except TargetKissmetricsError as exc:
            cls.logger.error("%s", redact(str(exc)))
            sys.exit(1)
        try:
            try:
                target.listen(file_input)
            except (SingerReadError, RecordsWithoutSchemaException, ValueError) as exc:
                line = input_error_line(exc)
                if line is None:
                    raise
                raise InvalidInput(line) from None
        except TargetKissmetricsError as exc:
            target.logger.info("%s", target.summary.line())
            target.logger.error("%s", redact(target.failure_line(exc), [target.settings.api_key]))
            target.close()
            sys.exit(1)


if __name__ == "__main__":
    TargetKissmetrics.cli()
