"""Keep the KISSmetrics key out of every log line, error and dry-run line.

The key travels in the query string (``_k``), so any URL is redacted before it is shown, and a logging
filter on the process' handlers rewrites anything that still slips through (urllib3 debug lines,
tracebacks).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "REDACTED"
_K_PARAM = re.compile(r"(?<![A-Za-z0-9])(_k=)[^&\s'\"]*")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``_k=…`` becomes ``_k=REDACTED``; any literal secret (raw or percent-encoded) becomes REDACTED."""
    text = _K_PARAM.sub(r"\1" + REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
            encoded = quote(secret, safe="")
            if encoded != secret:
                text = text.replace(encoded, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that redacts the formatted message and any traceback text of each record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("target-kissmetrics-redaction")
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def install_redaction(secrets: Iterable[str], loggers: Iterable[logging.Logger] = ()) -> RedactingFilter:
    """Add one RedactingFilter to every handler of the root logger and of the given loggers."""
    flt = RedactingFilter(secrets)
    for logger in (logging.getLogger(), *loggers):
        current: logging.Logger | None = logger
        while current is not None:
            for handler in current.handlers:
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(flt)
            current = current.parent if current.propagate else None
    return flt
