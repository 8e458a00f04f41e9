"""Staff sign-in for the ops pages: a signed-cookie session, checked again on every request.

    @staff_required
    def dashboard(request): ...     # request.staff is the signed-in staff member

The session (a cookie signed with SECRET_KEY, so it cannot be forged or altered) holds
the staff member's id, ``token_version`` and ``ops_session_version``. Every ops request
reads the account again with a strongly consistent GetItem and lets it through only
while the account is staff, active and still at both versions: disabling, demoting or
"revoke sessions" ends a sign-in at once, although a signed cookie cannot be taken back.
Signing out bumps ``ops_session_version``, so a copy of the cookie taken before is
worthless too (it ends that staff member's other ops sign-ins as well; their API tokens
are untouched). Anyone else, signed in to the API or not, is sent to the login page: no
ops page renders for them.

A browser that has signed in keeps a device cookie (``accounts/devices.py``; HttpOnly,
limited to /ops/, kept past signing out), so its next sign-in is counted on that device:
strangers who keep a staff member's email locked do not keep them out of the ops pages.

Every ops page goes through ``ops_page``, which also answers for DynamoDB when it does
not (``Unavailable``: down, too slow, throttled past the retries): an HTML page saying
so, a 503 with Retry-After, and one warning in the log. Staff open these pages in an
incident; a traceback and the API's JSON 500 would tell them nothing they can act on.
"""

import functools
import logging
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.log import log_response

from accounts.devices import issue_device_token
from accounts.services import now_iso
from dermalens_site.errors import RETRY_AFTER_SECONDS_UNAVAILABLE, spread
from dynamo.errors import Unavailable
from dynamo.users import User, users_table

logger = logging.getLogger("dermalens.ops")


class StaffRequest(HttpRequest):
    """A request that ``staff_required`` let through: ``staff`` is the signed-in staff member."""

    staff: User


SESSION_USER_ID_KEY = "ops_user_id"
SESSION_VERSION_KEY = "ops_token_version"
SESSION_OPS_VERSION_KEY = "ops_session_version"
DEVICE_COOKIE = "ops_device"

# Ops pages run no script and load nothing from elsewhere; they hold personal data, so
# no cache keeps them and no other site may frame them.
OPS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
}

View = Callable[..., HttpResponse]


def sign_in(request: HttpRequest, staff: User) -> None:
    request.session.cycle_key()  # a fresh session at every sign-in (session fixation)
    request.session[SESSION_USER_ID_KEY] = staff.user_id
    request.session[SESSION_VERSION_KEY] = staff.token_version
    request.session[SESSION_OPS_VERSION_KEY] = staff.ops_session_version


def device_token_of(request: HttpRequest) -> str | None:
    """The device token this browser was given at an earlier sign-in, if any."""
    return request.COOKIES.get(DEVICE_COOKIE)


def remember_device(response: HttpResponse, staff: User) -> None:
    """Give the browser a device token for its next sign-in."""
    response.set_cookie(
        DEVICE_COOKIE,
        issue_device_token(staff),
        max_age=settings.LOGIN_DEVICE_TOKEN_DAYS * 24 * 60 * 60,
        path=settings.SESSION_COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def sign_out(request: HttpRequest, staff: User | None = None) -> None:
    """Forget the session here; with ``staff``, end their ops sessions on the server too."""
    if staff is not None:
        users_table().end_ops_sessions(staff.user_id, updated_at=now_iso())
    request.session.flush()


def signed_in_staff(request: HttpRequest) -> User | None:
    user_id = request.session.get(SESSION_USER_ID_KEY)
    if not isinstance(user_id, str):
        return None
    user = users_table().get(user_id, consistent=True)
    if (
        user is None
        or not user.is_staff
        or not user.is_active
        or request.session.get(SESSION_VERSION_KEY) != user.token_version
        or request.session.get(SESSION_OPS_VERSION_KEY) != user.ops_session_version
    ):
        sign_out(request)
        return None
    return user


def ops_page(view: View) -> View:
    """Add the ops pages' security headers to a view's responses, and answer a 503 page
    when DynamoDB does not answer."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Unavailable as err:
            response = data_store_unavailable(request, err)
        for name, value in OPS_HEADERS.items():
            response.setdefault(name, value)
        return response

    return wrapped


def data_store_unavailable(request: HttpRequest, err: Unavailable) -> HttpResponse:
    response = render(request, "ops/unavailable.html", status=503)
    # Drawn per answer, as the API's 503s are: the staff who meet an outage together do
    # not all retry in the same second.
    response["Retry-After"] = str(spread(RETRY_AFTER_SECONDS_UNAVAILABLE))
    # Expected in an incident, and said by the page: a warning without the traceback,
    # which also stands for Django's own line (an ERROR for every 5xx).
    log_response(
        "dynamodb unavailable (%s): %s",
        type(err.cause or err).__name__,
        request.path,
        response=response,
        request=request,
        logger=logger,
        level="warning",
    )
    return response


def staff_required(view: View) -> View:
    """Only signed-in, active staff reach ``view``; anyone else goes to the login page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        staff = signed_in_staff(request)
        if staff is None:
            return redirect_to_login(request)
        cast(StaffRequest, request).staff = staff
        # for the request log's user id; a DynamoDB user, not a django.contrib.auth one
        request.user = cast(Any, staff)
        return view(request, *args, **kwargs)

    return ops_page(wrapped)


def redirect_to_login(request: HttpRequest) -> HttpResponseRedirect:
    login = reverse("ops:login")
    if request.method == "GET":
        login += "?" + urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(login)


def safe_next(request: HttpRequest, target: str | None) -> str:
    """Where to go after sign-in: an ops page of this site, or the dashboard."""
    dashboard = reverse("ops:dashboard")
    if (
        target
        and target.startswith(dashboard)
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return dashboard
