"""Routes of the account endpoints."""

from rest_framework.routers import SimpleRouter

from accounts import views

router = SimpleRouter(trailing_slash=False)
router.register("auth", views.PublicAuthViewSet, basename="auth")
router.register("auth", views.SessionViewSet, basename="session")
router.register("users", views.UserViewSet, basename="users")

urlpatterns = router.urls
