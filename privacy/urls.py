"""Routes of the privacy endpoints (DELETE /users/me shares its path with the accounts'
profile: see ``dermalens_site.routing``)."""

from django.urls import path

from privacy import views

urlpatterns = [
    path("users/me", views.AccountErasureView.as_view(), name="account-erasure"),
    path("users/me/export", views.AccountExportView.as_view(), name="account-export"),
]
