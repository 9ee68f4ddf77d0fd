"""TargetKissmetrics: Singer records in, KISSmetrics events out, each counted once by KISSmetrics."""

from __future__ import annotations

import signal
import sys
import typing as t

from singer_sdk import Target
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.singerlib.exceptions import SingerReadError

from target_kissmetrics import __version__
from target_kissmetrics.delivery import DeliveryRun
from target_kissmetrics.errors import (
    ConfigError,
    DeliveryFailed,
    Interrupted,
    InvalidInput,
    TargetKissmetricsError,
)
from target_kissmetrics.events import record_key
from target_kissmetrics.interrupt import make_handler
from target_kissmetrics.journal import Journal, adopt_legacy_journal
from target_kissmetrics.mapping import EventMapping, resolve_mappings
from target_kissmetrics.reader import STOPPED, QuietSingerReader, input_error_line
from target_kissmetrics.redact import install_redaction, redact
from target_kissmetrics.routing import Routes
from target_kissmetrics.sdk_private import StateGate, _ConfigInput, replace_termination_handlers
from target_kissmetrics.settings import CONFIG_SCHEMA, Settings
from target_kissmetrics.sinks import KissmetricsSink, SinkNeeds
from target_kissmetrics.summary import RunSummary
from target_kissmetrics.transport import Transport
from target_kissmetrics.validation import check_mapping

if t.TYPE_CHECKING:
    from pathlib import PurePath

    from singer_sdk.sinks import Sink


class TargetKissmetrics(StateGate):
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
        reader = self.message_reader
        assert isinstance(reader, QuietSingerReader)
        self.stop = reader.stop
        replace_termination_handlers(make_handler(self.stop, lambda: reader.reading, self._announce_stop))
        self.settings = Settings.from_config(self.config)
        install_redaction(self.settings.secrets, [self.logger])
        self.mappings: dict[str, EventMapping] = resolve_mappings(self.config.get("event_mappings"))
        for mapping in self.mappings.values():
            check_mapping(mapping)
        self.summary = RunSummary()
        self.delivery: DeliveryRun | None = None
        if not self.settings.dry_run:
            self.delivery = DeliveryRun(
                self._open_journal(),
                Transport(
                    self.settings.tracking_url,
                    self.settings.api_key,
                    account_keys=self.settings.account_api_keys,
                    max_concurrency=self.settings.max_concurrency,
                    timeout_seconds=self.settings.timeout_seconds,
                    max_retries=self.settings.max_retries,
                    backoff_base_seconds=self.settings.backoff_base_seconds,
                    user_agent=f"target-kissmetrics/{__version__}",
                ),
                self.summary,
                self.stop,
                self.logger,
            )
            reader.on_start = self.delivery.recover_pending

    def _open_journal(self) -> Journal:
        path = self.settings.journal_path
        if self.settings.journal_path_is_default and adopt_legacy_journal(path):
            self.logger.warning("Copied the journal from .meltano/run/ (emptied by installs) to %s", path)
        journal = Journal(path, self.settings.journal_retention_days, url=self.settings.journal_url)
        used = journal.get_meta("lowercase_identity")
        current = "true" if self.settings.lowercase_identity else "false"
        if used is not None and used != current:
            journal.close()
            raise ConfigError(
                f"lowercase_identity is {current}, but the events in the journal {journal.where} were sent "
                f"with {used}: people whose email has capitals would become second people in KISSmetrics; "
                "set it back, or see the README (Operating it: lowercase_identity) to change it on purpose"
            )
        if used is None:
            journal.set_meta("lowercase_identity", current)
        return journal

    def _announce_stop(self, signum: int) -> None:
        self.logger.warning(
            "Received %s: sending nothing more; requests in flight finish, then the run stops with no "
            "STATE past undelivered events",
            signal.Signals(signum).name,
        )

    def sink_needs(self, stream_name: str) -> SinkNeeds:
        return SinkNeeds(
            mapping=self.mappings[stream_name],
            lowercase_identity=self.settings.lowercase_identity,
            use_fallback=self.settings.use_fallback,
            summary=self.summary,
            delivery=self.delivery,
            tracking_url=self.settings.tracking_url,
            routes=Routes(self.settings.account_api_keys),
        )

    def state_may_be_written(self) -> bool:
        """A dry run prints no STATE: Meltano would save the bookmark, and the real run send nothing."""
        return not self.settings.dry_run

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
        self.stop.check("everything read was delivered")
        if self.settings.dry_run:
            self.logger.info("Dry run: no STATE was emitted, so the bookmark stays where it was")
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
            raise InvalidInput(f"Invalid Singer input: {stream} record {key} {exc}; {STOPPED}") from None

    def settle(self) -> None:
        """After a failure or a signal: record what the batches still open did deliver."""
        if self.delivery is not None:
            self.delivery.settle_all()

    def close(self) -> None:
        if self.delivery is not None:
            self.delivery.transport.close()
            self.delivery.journal.close()
            self.delivery = None

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
            try:
                target.settle()
            except TargetKissmetricsError as also:  # e.g. a full disk: the first error is the one to tell
                target.logger.warning("%s", redact(str(also), target.settings.secrets))
            target.logger.info("%s", target.summary.line())
            target.logger.error("%s", redact(target.failure_line(exc), target.settings.secrets))
            target.close()
            sys.exit(exc.exit_code if isinstance(exc, Interrupted) else 1)


if __name__ == "__main__":
    TargetKissmetrics.cli()
