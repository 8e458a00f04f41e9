"""django-ses's email backend with one SES client per process, not one per message.

    EMAIL_BACKEND = "dermalens_site.ses.SESBackend"

Django makes a backend for every message sent, and django-ses makes a boto3 session and
an SES client for every backend it opens: about 0.15 s of CPU per account email (botocore
reads and parses the SES service model each time) and, with the IAM role, credentials
fetched again from the instance metadata service. In a gevent web worker the sender
thread is a greenlet, so that CPU held every other request of the worker. boto3 clients
are thread-safe: the first backend opened makes the client for its settings, and every
later one uses it.
"""

from typing import Any

import django_ses
from django.conf import settings
from django.utils.module_loading import import_string

from dermalens_site.shared_clients import SharedClients

_clients = SharedClients()


class SESBackend(django_ses.SESBackend):
    connection: Any  # the boto3 SES client, or None while closed

    def open(self) -> bool:
        if self.connection:
            return False
        key = (
            self._session_profile,
            self._access_key_id,
            self._access_key,
            self._session_token,
            self._use_ses_v2,
            self._region_name,
            self._endpoint_url,
            repr(self._config),
        )
        self.connection = _clients.get(key, self._new_client)
        return self.connection is not None

    def _new_client(self) -> Any:
        super().open()  # may fail silently, leaving no connection
        return self.connection


def forget_clients() -> None:
    """Make the clients again on next use (after the SES settings change, as in tests)."""
    _clients.clear()


def sends_with_ses() -> bool:
    """Whether EMAIL_BACKEND is django-ses's backend, or this one built on it."""
    backend = import_string(settings.EMAIL_BACKEND)
    return isinstance(backend, type) and issubclass(backend, django_ses.SESBackend)
