"""Start-up checks shared by the server, the worker and the CLI: each failure is one coded line."""

from __future__ import annotations

from sqlalchemy import text

from qianbao import migrate
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.logging import configure_logging
from qianbao.pii.keyring import Keyring, create_keyring, load_keyring, use_keyring
from qianbao.settings import Settings


def open_database(settings: Settings) -> Database:
    url = settings.resolved_database_url
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        db.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise QianbaoError(
            "CONFIG_DATABASE_UNREACHABLE", url=db.engine.url.render_as_string(hide_password=True), reason=reason
        ) from exc
    return db


def require_current_schema(db: Database) -> None:
    current = migrate.current_revisions(db.engine)
    heads = migrate.head_revisions(db.engine)
    if current != heads:
        raise QianbaoError(
            "CONFIG_DATABASE_NOT_MIGRATED",
            current=",".join(sorted(current)) or "empty",
            expected=",".join(sorted(heads)),
        )


def keyring(settings: Settings, *, create: bool = False) -> Keyring:
    """Load (or with `create`, make) the key file and install it for this process's encrypted columns."""
    path = settings.resolved_key_file
    ring = create_keyring(path) if create and not path.exists() else load_keyring(path)
    use_keyring(ring)
    return ring


def init_logging(settings: Settings) -> None:
    configure_logging(json=settings.json_logs, level=settings.log_level)
