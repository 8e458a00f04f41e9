"""The password-reset page that the emailed link opens, in a real browser (Debian's
Chromium, headless, JavaScript off) and over plain HTTP: someone without the app sets a
new password with the link read from the message SES accepted.

Screenshots go to ``test-output/screenshots/accounts/`` (git-ignored); the path is printed.
"""

from pathlib import Path

from rest_framework.test import APIClient

from conftest import STRONG_PASSWORD
from ops.tests.test_browser import browser_page, ops_server  # noqa: F401 (fixtures)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots" / "accounts"
NEW_PASSWORD = "a-new-passphrase-from-the-browser"


def test_someone_without_the_app_sets_a_new_password_from_the_emailed_link(
    ses_mailbox,
    ops_server,  # noqa: F811
    browser_page,  # noqa: F811
    register,
    settings,
):
    settings.PASSWORD_RESET_URL = f"{ops_server}/account/reset-password"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOTS}")
    page = browser_page
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)

    session = register()
    email = session["user"]["email"]
    APIClient().post("/api/v1/auth/password/reset", {"email": email})
    link = ses_mailbox.last(email, subject="Reset your DermaLens password").link

    response = page.goto(link)
    assert response.status == 200
    assert "script-src" not in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    page.get_by_role("heading", name="Choose a new password").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "01-reset-form.png"), full_page=True)

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password, again").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="Set new password").click()
    page.get_by_text("The two passwords differ.").wait_for()

    page.get_by_label("New password", exact=True).fill("password")
    page.get_by_label("New password, again").fill("password")
    page.get_by_role("button", name="Set new password").click()
    page.get_by_text("This password is too common.").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "02-reset-refused.png"), full_page=True)

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password, again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    page.get_by_text("Your password is changed").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "03-reset-done.png"), full_page=True)

    login = APIClient().post("/api/v1/auth/login", {"email": email, "password": NEW_PASSWORD})
    assert login.status_code == 200
    old = APIClient().post("/api/v1/auth/login", {"email": email, "password": STRONG_PASSWORD})
    assert old.status_code == 401
    assert ses_mailbox.last(email, subject="password was changed")

    page.goto(link)
    page.get_by_text("This link is invalid, expired or already used").wait_for()
    assert page.get_by_role("button", name="Set new password").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "04-link-used.png"), full_page=True)
    assert scripts == []
