"""The ops pages, mounted at /ops/ (server-rendered, for staff only)."""

from django.urls import path, register_converter

from ops import views


class ULIDConverter:
    """A ULID (the id of every account): nothing else reaches an account's pages."""

    regex = "[0-9A-HJKMNP-TV-Z]{26}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ULIDConverter, "ulid")

app_name = "ops"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("users", views.users, name="users"),
    path("users/<ulid:user_id>", views.user_detail, name="user"),
    path("users/<ulid:user_id>/<slug:action>", views.user_action, name="user-action"),
    path("audit", views.audit_log, name="audit"),
]
