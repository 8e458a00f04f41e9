"""The account pages that emailed links open, mounted at /account/."""

from django.urls import path

from accounts import pages

app_name = "account-pages"
urlpatterns = [
    path("reset-password", pages.reset_password, name="reset-password"),
    path("reset-password/new-link", pages.new_reset_link, name="new-reset-link"),
    path("verify-email", pages.verify_email, name="verify-email"),
]
