"""Structured logs: JSON lines in production, readable console lines in development.

Every line inside a request carries its request id (bound in contextvars by the request middleware).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

_REDACTED_KEYS = frozenset({"password", "pin", "card_number", "id_number", "otp", "secret", "cvv"})


def _redact(_logger: object, _method: str, event_dict: dict) -> dict:
    # Personal values must never reach a log even if a caller passes them by mistake.
    for key in list(event_dict):
        if key.lower() in _REDACTED_KEYS:
            event_dict[key] = "***"
    return event_dict


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time, so a swapped-out stream (CLI test runners) is never kept."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, json: bool, level: str = "INFO", stream: TextIO | None = None) -> None:
    shared: list = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "qianbao") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
