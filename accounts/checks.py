"""Deployment checks of account email (``manage.py check --deploy``).

Account email that cannot arrive, or links that point at a developer's machine, would
lock people out as surely as no reset at all; the defaults suit ``make run`` only.
"""

from email.utils import parseaddr

from django.conf import settings
from django.core.checks import Tags, Warning, register

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


@register(Tags.security, deploy=True)
def check_account_email(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    _, sender = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if sender.rpartition("@")[2] in LOCAL_HOSTS:
        warnings.append(
            Warning(
                f"EMAIL_FROM is {settings.DEFAULT_FROM_EMAIL!r}: no one receives account email "
                "from it.",
                hint="Set EMAIL_FROM to an address of a domain verified in Amazon SES.",
                id="accounts.W001",
            )
        )
    for name in ("PASSWORD_RESET_URL", "EMAIL_VERIFY_URL"):
        url = getattr(settings, name)
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        if host in LOCAL_HOSTS:
            warnings.append(
                Warning(
                    f"{name} is {url!r}: emailed links would open a local address.",
                    hint="Set SITE_URL (or the URL itself) to the address people reach.",
                    id="accounts.W002",
                )
            )
    return warnings
