"""Two small server-rendered pages for the links DermaLens emails, for someone without
the app at hand: choose a new password, confirm an email address.

    /account/reset-password?token=...   (PASSWORD_RESET_URL's default)
    /account/reset-password/new-link    (POST: a new link, when one expired or was used)
    /account/verify-email?token=...     (EMAIL_VERIFY_URL's default)

Plain HTML forms, no script (the Content-Security-Policy allows none), no cookie, nothing
loaded from elsewhere, and the token in the address never leaves for another site (the
project's ``Referrer-Policy: same-origin``). Opening a link changes nothing: a mail
scanner that follows it cannot use it up; the form's POST does the work, through the
same use cases as the API, and is throttled like the API's token endpoints.

The forms are exempt from Django's CSRF check (``csrf_exempt``), unlike the ops pages.
CSRF protection keeps another site from using what a browser sends by itself (a session
cookie); these forms are authorised by nothing the browser holds, only by the link's
token in the form, a secret a forger cannot know (and whoever knows it may use it
directly), and a done form signs the browser in to nothing. The check only refused
people whose browser keeps no cookie (cookies blocked, a mail app's viewer) with
Django's bare 403.

With DynamoDB unreachable a page is a 503 of its own (``unavailable.html``, with
``Retry-After``), not the API's JSON 500: the link still works once it is back.
"""

import functools
import math
from collections.abc import Callable
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.request import Request

from accounts import choices, services
from accounts.throttles import TokenThrottle, account_read_now
from accounts.views import RESET_REQUEST_THROTTLES, RESET_REQUESTED, first_refusal
from dermalens_site.errors import (
    RETRY_AFTER_SECONDS_UNAVAILABLE,
    ApplicationError,
    logger,
    spread,
)
from dynamo import errors as dynamo_errors

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
}
TOKEN_MAX_LENGTH = 1024
THROTTLED = "Too many attempts from your network; wait a few minutes and try again."
FROM_ANOTHER_SITE = "Ask for a new link on this page, or in the DermaLens app."


def account_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except dynamo_errors.Unavailable as err:
            logger.warning("dynamodb unavailable", extra={"cause": type(err.cause).__name__})
            response = render(request, "accounts/unavailable.html", status=503)
            response["Retry-After"] = str(spread(RETRY_AFTER_SECONDS_UNAVAILABLE))
        for name, value in PAGE_HEADERS.items():
            response[name] = value
        return response

    return wrapped


class ResetPasswordForm(forms.Form):
    new_password = forms.CharField(
        max_length=settings.PASSWORD_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_again = forms.CharField(
        max_length=settings.PASSWORD_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned is None:  # Form.clean returns cleaned_data, a dict
            raise ValueError("Form.clean returned no data")
        first, second = cleaned.get("new_password"), cleaned.get("new_password_again")
        if first and second and first != second:
            self.add_error("new_password_again", "The two passwords differ.")
        return cleaned


class NewLinkForm(forms.Form):
    email = forms.EmailField(
        max_length=choices.EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


def token_of(request: HttpRequest) -> str:
    token = request.POST.get("token") if request.method == "POST" else request.GET.get("token")
    return (token or "")[:TOKEN_MAX_LENGTH]


def seconds_to_wait(request: HttpRequest) -> int | None:
    """Seconds until this address may send the form again, or None while it may (a GET
    is never counted)."""
    if request.method != "POST":
        return None
    throttle = TokenThrottle()
    if throttle.allow_request(request, None):
        return None
    return math.ceil(throttle.wait())


def throttled(
    request: HttpRequest, template: str, context: dict, wait: int, message: str = THROTTLED
) -> HttpResponse:
    """The page with ``message``, a 429 that says when to try again, as the API's does."""
    response = render(request, template, {**context, "error": message}, status=429)
    response["Retry-After"] = str(wait)
    return response


@csrf_exempt  # the link's token authorises the form (module docstring)
@account_page
@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest) -> HttpResponse:
    token = token_of(request)
    context = {"token": token, "min_length": settings.PASSWORD_MIN_LENGTH}
    template = "accounts/reset_password.html"
    wait = seconds_to_wait(request)
    if wait is not None:
        return throttled(request, template, context, wait)
    try:
        services.check_password_reset_token(token=token, account=account_read_now(request))
    except ApplicationError as err:
        context = {**context, "error": err.message, "new_link_form": NewLinkForm()}
        return render(request, template, context, status=400)
    if request.method == "GET":
        return render(request, template, {**context, "form": ResetPasswordForm()})
    form = ResetPasswordForm(request.POST)
    if not form.is_valid():
        return render(request, template, {**context, "form": form}, status=400)
    try:
        services.reset_password(
            token=token,
            new_password=form.cleaned_data["new_password"],
            account=account_read_now(request),
        )
    except serializers.ValidationError as err:
        for message in err.detail.get("new_password", []) if isinstance(err.detail, dict) else []:
            form.add_error("new_password", str(message))
        return render(request, template, {**context, "form": form}, status=400)
    except services.PasswordChecksBusy as busy:
        response = render(request, template, {**context, "form": form, "error": busy.message})
        response.status_code = busy.status_code
        response["Retry-After"] = str(busy.retry_after_seconds)
        return response
    except ApplicationError as err:
        return render(request, template, {**context, "error": err.message}, status=400)
    return render(request, template, {"done": True})


def sent_from_another_site(request: HttpRequest) -> bool:
    """Whether the browser says another site's page sent this form: ``Sec-Fetch-Site``,
    which a page cannot set, or from a browser that sends none (Safari before 16.4) an
    ``Origin`` of another host. A form with neither (a mail app's viewer) is this site's."""
    fetched_from = request.headers.get("Sec-Fetch-Site")
    if fetched_from is not None:
        return fetched_from == "cross-site"
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != request.get_host().lower()


@csrf_exempt  # as the API's reset request, open to anyone and limited per mailbox
@account_page
@require_http_methods(["GET", "POST"])
def new_reset_link(request: HttpRequest) -> HttpResponse:
    """A new reset link asked for on the page, as ``POST /auth/password/reset`` asks: the
    same limits (the email address's, then the client address's), the same use case, and
    one answer whether or not an account has the address.

    Unlike the API's JSON, a form can be sent by any site's page, from each visitor's
    own address: such a form is refused (403), so that no site can spread reset mail
    over its visitors' addresses, each under the per-address brake."""
    template = "accounts/reset_password.html"
    if request.method == "GET":  # the address opened again (history, a reload): the form
        return redirect("account-pages:reset-password")
    if sent_from_another_site(request):
        context = {"new_link_form": NewLinkForm(), "error": FROM_ANOTHER_SITE}
        return render(request, template, context, status=403)
    form = NewLinkForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"new_link_form": form}, status=400)
    # The API's throttles read the body of a DRF request.
    as_the_api_reads_it = Request(request, parsers=[FormParser()])
    throttles = [throttle_class() for throttle_class in RESET_REQUEST_THROTTLES]
    refusal = first_refusal(throttles, as_the_api_reads_it, None)
    if refusal is not None:
        wait: int = getattr(refusal, "wait", None) or 1  # DRF sets it; its stubs omit it
        context = {"new_link_form": form}
        return throttled(request, template, context, wait, message=str(refusal.detail))
    services.request_password_reset(email=form.cleaned_data["email"])
    context = {"new_link_form": NewLinkForm(), "notice": RESET_REQUESTED}
    return render(request, template, context, status=202)


@csrf_exempt  # the link's token authorises the form (module docstring)
@account_page
@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest) -> HttpResponse:
    token = token_of(request)
    template = "accounts/verify_email.html"
    if request.method == "GET":
        return render(request, template, {"token": token})
    wait = seconds_to_wait(request)
    if wait is not None:
        return throttled(request, template, {"token": token}, wait)
    try:
        user = services.use_email_link(token=token)
    except ApplicationError as err:
        return render(request, template, {"error": err.message}, status=err.status_code)
    return render(request, template, {"done": True, "email": user.email})
