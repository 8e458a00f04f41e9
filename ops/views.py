"""The ops pages: server-rendered HTML for staff, usable without JavaScript.

Every page but the login is ``staff_required``; every action is a POST with a CSRF
token, calls one service (which writes the audit record) and redirects back (POST,
redirect, GET), so reloading a page never repeats an action.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.addresses import client_address
from accounts.lockouts import TooManyAttempts
from accounts.services import InvalidCredentials, PasswordChecksBusy, log_in
from accounts.throttles import LoginThrottle
from dermalens_site.errors import ApplicationError, NotFound
from dynamo.errors import InvalidCursor
from ops import history, selectors, services
from ops.auth import (
    StaffRequest,
    device_token_of,
    ops_page,
    remember_device,
    safe_next,
    sign_in,
    sign_out,
    signed_in_staff,
    staff_required,
)
from ops.forms import EraseForm, LoginForm, SearchForm

# What an action's redirect says on the user's page (``?done=<action>``).
NOTICES = {
    "disable_account": "The account is disabled and its tokens are revoked.",
    "enable_account": "The account is enabled. Its earlier tokens stay revoked.",
    "revoke_sessions": "Every session and token of the account is revoked.",
    "rerun_analyses": "Failed analyses ran again.",
    "send_password_reset": "A password reset link is on its way to the account's email address.",
}
RERUN_COUNTS = ("complete", "failed", "pending", "skipped")
# The action in the URL (/ops/users/<id>/<action>) and the audit action it performs.
URL_ACTIONS = {
    "disable": "disable_account",
    "enable": "enable_account",
    "revoke-sessions": "revoke_sessions",
    "rerun-analyses": "rerun_analyses",
    "send-reset-link": "send_password_reset",
    "erase": "erase_account",
}


@ops_page
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    next_page = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "GET":
        if signed_in_staff(request) is not None:
            return HttpResponseRedirect(safe_next(request, next_page))
        return render_login(request, LoginForm(), next_page)
    # The API's login limits: attempts here and at /api/v1/auth/login share one
    # allowance per client address (this throttle) and per account (in log_in), where
    # a browser that signed in before is counted on its device cookie instead.
    throttle = LoginThrottle()
    if not throttle.allow_request(request, None):
        wait_seconds = int(throttle.wait() or 0) + 1
        response = render_login(
            request,
            LoginForm(),
            next_page,
            error=f"Too many sign-in attempts; try again in {wait_seconds} seconds.",
            status=429,
        )
        response["Retry-After"] = str(wait_seconds)
        return response
    form = LoginForm(request.POST)
    if not form.is_valid():
        return render_login(request, form, next_page, status=400)
    try:
        user, _ = log_in(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            device_token=device_token_of(request),
            address=client_address(request),
        )
    except InvalidCredentials:
        return render_login(
            request, form, next_page, error="The email or password is incorrect.", status=401
        )
    except (TooManyAttempts, PasswordChecksBusy) as refused:
        response = render_login(
            request, form, next_page, error=refused.message, status=refused.status_code
        )
        response["Retry-After"] = str(refused.retry_after_seconds)
        return response
    if not user.is_staff:
        return render_login(
            request, form, next_page, error="This account cannot use the ops pages.", status=403
        )
    sign_in(request, user)
    services.record_staff_action(staff=user, action="login")
    response = HttpResponseRedirect(safe_next(request, next_page))
    remember_device(response, user)
    return response


def render_login(
    request: HttpRequest,
    form: LoginForm,
    next_page: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"form": form, "next": next_page, "error": error}
    return render(request, "ops/login.html", context, status=status)


@ops_page
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    staff = signed_in_staff(request)
    if staff is not None:
        services.record_staff_action(staff=staff, action="logout")
    sign_out(request, staff)
    return HttpResponseRedirect(reverse("ops:login"))


@staff_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "ops/dashboard.html",
        {"dashboard": selectors.dashboard(), "history": history.service_history()},
    )


@staff_required
@require_GET
def users(request: StaffRequest) -> HttpResponse:
    context: dict = {"notice": "The account is erased." if "erased" in request.GET else None}
    if "email" in request.GET:
        form = SearchForm(request.GET)
        context["form"] = form
        if not form.is_valid():
            return render(request, "ops/users.html", context, status=400)
        found = selectors.find_user_by_email(email=form.cleaned_data["email"])
        context.update(searched=True, users=[found] if found else [])
        return render(request, "ops/users.html", context)
    context["form"] = SearchForm()
    try:
        page = selectors.list_users(
            staff_id=request.staff.user_id, cursor=request.GET.get("cursor")
        )
    except InvalidCursor as err:
        context["error"] = f"{err.message} The list starts again from the beginning."
        page = selectors.list_users(staff_id=request.staff.user_id, cursor=None)
    context.update(users=page.items, next_cursor=page.next_cursor)
    return render(request, "ops/users.html", context)


@staff_required
@require_GET
def user_detail(request: HttpRequest, user_id: str) -> HttpResponse:
    return render_user(request, user_id, notice=notice_from(request))


def render_user(
    request: HttpRequest,
    user_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    erase_form: EraseForm | None = None,
) -> HttpResponse:
    overview = selectors.user_overview(user_id=user_id)
    if overview is None:
        return render(request, "ops/not_found.html", status=404)
    context = {
        "overview": overview,
        "user": overview.user,
        "notice": notice,
        "error": error,
        "erase_form": erase_form or EraseForm(),
        "rerun_max": services.RERUN_MAX_SCANS,
    }
    return render(request, "ops/user.html", context, status=status)


def notice_from(request: HttpRequest) -> str | None:
    done = request.GET.get("done")
    notice = NOTICES.get(done or "")
    if done == "rerun_analyses":
        counts = ", ".join(
            f"{name} {request.GET[name]}"
            for name in RERUN_COUNTS
            if request.GET.get(name, "").isdigit()
        )
        notice = f"{notice} {counts}." if counts else notice
    return notice


@staff_required
@require_POST
def user_action(request: StaffRequest, user_id: str, action: str) -> HttpResponse:
    action = URL_ACTIONS.get(action, "")
    if not action:
        return render(request, "ops/not_found.html", status=404)
    staff = request.staff
    erase_form = None
    query: dict[str, str | int] = {"done": action}
    try:
        if action == "disable_account":
            services.disable_account(staff=staff, user_id=user_id)
        elif action == "enable_account":
            services.enable_account(staff=staff, user_id=user_id)
        elif action == "revoke_sessions":
            services.revoke_sessions(staff=staff, user_id=user_id)
        elif action == "send_password_reset":
            services.send_password_reset(staff=staff, user_id=user_id)
        elif action == "rerun_analyses":
            outcome = services.rerun_failed_analyses(staff=staff, user_id=user_id)
            query.update(outcome.as_details())
        elif action == "erase_account":
            erase_form = EraseForm(request.POST)
            if not erase_form.is_valid():
                return render_user(request, user_id, erase_form=erase_form, status=400)
            services.erase_account(
                staff=staff,
                user_id=user_id,
                confirm_email=erase_form.cleaned_data["confirm_email"],
            )
            return HttpResponseRedirect(reverse("ops:users") + "?erased=1")
    except NotFound:
        return render(request, "ops/not_found.html", status=404)
    except ApplicationError as err:
        return render_user(
            request, user_id, error=err.message, status=err.status_code, erase_form=erase_form
        )
    target = reverse("ops:user", kwargs={"user_id": user_id})
    return HttpResponseRedirect(f"{target}?{urlencode(query)}")


@staff_required
@require_GET
def audit_log(request: StaffRequest) -> HttpResponse:
    error = None
    try:
        page = selectors.list_audit_entries(
            staff_id=request.staff.user_id, cursor=request.GET.get("cursor")
        )
    except InvalidCursor as err:
        error = f"{err.message} The log starts again from the newest entry."
        page = selectors.list_audit_entries(staff_id=request.staff.user_id, cursor=None)
    context = {"entries": page.items, "next_cursor": page.next_cursor, "error": error}
    return render(request, "ops/audit.html", context)
