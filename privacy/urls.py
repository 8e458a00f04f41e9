"""Routes of the privacy endpoints (DELETE /users/me is routed with the accounts' ``me``)."""

from django.urls import path

from privacy import views

urlpatterns = [
    path("users/me/export", views.AccountExportView.as_view(), name="account-export"),
]
