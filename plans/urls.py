"""Routes of the plan endpoints."""

from rest_framework.routers import SimpleRouter

from plans import views

router = SimpleRouter(trailing_slash=False)
router.register("plans", views.PlanViewSet, basename="plans")

urlpatterns = router.urls
