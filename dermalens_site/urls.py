"""Root URLs: the versioned API under /api/v1/ and its documentation."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from dermalens_site import errors

api_v1 = [
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
    path("ops/", include("ops.urls")),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
