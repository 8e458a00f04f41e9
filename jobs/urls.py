"""Routes of the job endpoint: jobs/{id}."""

from rest_framework.routers import SimpleRouter

from jobs import views

router = SimpleRouter(trailing_slash=False)
router.register("jobs", views.JobViewSet, basename="jobs")

urlpatterns = router.urls
