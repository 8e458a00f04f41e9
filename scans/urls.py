"""Routes of the scan endpoints and of locally stored image files."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from scans import views

router = SimpleRouter(trailing_slash=False)
router.register("scans", views.ScanViewSet, basename="scans")

urlpatterns = [
    path("scans/files/<str:token>", views.scan_image_file, name="scan-image-file"),
    *router.urls,
]
