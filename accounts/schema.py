"""OpenAPI description of our bearer-token authentication (for drf-spectacular)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class DynamoJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.DynamoJWTAuthentication"
    name = "bearerAuth"
