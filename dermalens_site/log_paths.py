"""Request paths as logs may show them: a credential in a path is replaced by its name.

    loggable_path("/api/v1/scans/files/eyJr...:1tX...:Qm9...")  # "/api/v1/scans/files/<token>"

A signed image URL of the filesystem storage (``scans.storage``) carries its token in
the path, and the token is the capability: whoever reads a log line that holds it can
open the photo while the URL lives. The request log line (``RequestLogMiddleware``),
gunicorn's access line (``deploy/gunicorn.conf.py``) and every other log record (through
``LoggablePathsFilter`` on the log handler) print paths through ``loggable_path``.

This module imports nothing of Django or of the apps, so gunicorn's configuration can
use it before the application is loaded.
"""

import logging
import re

# Path segments that are credentials, named by the route they belong to; the route's
# own pattern is in scans/urls.py ("scans/files/<str:token>").
SECRET_SEGMENTS = re.compile(r"(?P<route>/scans/files/)[^/?#\s\"']+")
REDACTED_SEGMENT = "<token>"


def loggable_path(path: str) -> str:
    """``path`` with every secret segment replaced by its name."""
    return SECRET_SEGMENTS.sub(rf"\g<route>{REDACTED_SEGMENT}", path)


class LoggablePathsFilter(logging.Filter):
    """Redacts secret path segments in a record's arguments and ``path`` attribute.

    Django's own ``django.request`` lines ("Service Unavailable: <path>") and any other
    record that prints a path go through this on the way to the handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                loggable_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = loggable_path(record.msg)
        path = getattr(record, "path", None)
        if isinstance(path, str):
            record.path = loggable_path(path)
        return True
