"""The DermaLens Django project; its Celery app is loaded with it, so that tasks bind to it."""

from dermalens_site.celery import app as celery_app

__all__ = ("celery_app",)
