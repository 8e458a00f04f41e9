"""Root URLs: the versioned API under /api/v1/ and its documentation."""

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from dermalens_site import errors
from dermalens_site.routing import shared_path

api_v1: list[URLPattern | URLResolver] = [
    # Accounts answer GET and PATCH, privacy DELETE (the erasure).
    path("users/me", shared_path("users/me", "accounts.urls", "privacy.urls")),
    path("", include("accounts.urls")),
    path("", include("ops.api_urls")),
    path("", include("scans.urls")),
    path("", include("plans.urls")),
    path("", include("chat.urls")),
    path("", include("privacy.urls")),
    path("", include("jobs.urls")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    # Last of the API's: whatever no endpoint answers (also with DEBUG on) is a JSON 404.
    re_path(r"^api/", errors.api_path_not_found, name="api-path-not-found"),
    path("ops/", include("ops.urls")),
    path("account/", include("accounts.page_urls")),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
