"""Routes of the chat endpoints: chat/sessions, chat/sessions/{id}, chat/sessions/{id}/messages."""

from rest_framework.routers import SimpleRouter

from chat import views

router = SimpleRouter(trailing_slash=False)
router.register("chat/sessions", views.ChatSessionViewSet, basename="chat-sessions")

urlpatterns = router.urls
