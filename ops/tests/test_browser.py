"""The ops pages in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs as under gunicorn: Django's WSGI application (static files through
WhiteNoise) behind a real HTTP server on a free loopback port, in a thread of this
process, against the suite's DynamoDB Local. JavaScript is switched off in the browser:
the pages must work without it. Each step leaves a screenshot under
``test-output/screenshots/ops/`` (git-ignored); the path is printed.

Chromium comes from apt (``make browser``, part of ``make test``); Playwright's own
browser download is never used. Without Chromium this test fails rather than skips.
"""

import http.client
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots" / "ops"


@pytest.fixture
def ops_server() -> Iterator[str]:
    """The WSGI app served over HTTP on a free loopback port, for the test's duration."""
    from django.core.wsgi import get_wsgi_application
    from werkzeug.serving import make_server

    # The app logs each request itself (dermalens.request); werkzeug's lines would repeat it.
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, get_wsgi_application(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        werkzeug_log.setLevel(level)


@pytest.fixture
def browser_page():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `make browser` "
            "(as root: apt-get install -y chromium).",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            java_script_enabled=False, viewport={"width": 1200, "height": 900}
        )
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def api_status(base_url: str, access: str) -> int:
    """The status of GET /api/v1/users/me on the live server with this access token."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_staff_find_and_disable_an_account_and_a_regular_user_is_refused(
    ops_server, browser_page, create_staff, register
):
    page = browser_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOTS}")
    shot = 0

    def screenshot(name: str) -> None:
        nonlocal shot
        shot += 1
        page.screenshot(path=str(SCREENSHOTS / f"{shot:02d}-{name}.png"), full_page=True)

    stylesheets: list[int] = []
    page.on(
        "response",
        lambda response: (
            stylesheets.append(response.status) if response.url.endswith(".css") else None
        ),
    )
    staff = create_staff()
    person = register()
    bystander = register()
    email, user_id = person["user"]["email"], person["user"]["user_id"]
    assert api_status(ops_server, person["access"]) == 200

    # An anonymous visitor lands on the login page.
    page.goto(f"{ops_server}/ops/")
    assert "/ops/login" in page.url
    screenshot("login")

    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    assert page.get_by_role("heading", name="Tables").is_visible()
    assert page.get_by_text("test-audit").is_visible()
    assert stylesheets and set(stylesheets) <= {200, 304}, stylesheets
    screenshot("dashboard")

    page.get_by_role("navigation").get_by_role("link", name="Users").click()
    page.get_by_label("Email (exact)").fill(email.upper())
    page.get_by_role("button", name="Search").click()
    screenshot("search")
    page.get_by_role("link", name=email).click()
    page.get_by_role("heading", name=email).wait_for()
    screenshot("user")

    page.get_by_role("button", name="Disable account").click()
    page.get_by_text("The account is disabled and its tokens are revoked.").wait_for()
    assert page.get_by_role("button", name="Enable account").is_visible()
    screenshot("disabled")
    assert api_status(ops_server, person["access"]) == 401

    page.get_by_role("navigation").get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()  # count() does not wait
    entry = page.get_by_role("row").filter(has_text=user_id)
    assert entry.count() == 1
    assert "disabled the account" in entry.inner_text()
    assert staff.email in entry.inner_text()
    screenshot("audit")

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    screenshot("logged-out")
    page.goto(f"{ops_server}/ops/audit")
    assert "/ops/login" in page.url

    # A regular account, with the right password, is refused.
    page.get_by_label("Email").fill(bystander["user"]["email"])
    page.get_by_label("Password").fill(bystander["password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("This account cannot use the ops pages.").wait_for()
    assert "/ops/login" in page.url
    screenshot("regular-user-refused")
    page.goto(f"{ops_server}/ops/")
    assert "/ops/login" in page.url
