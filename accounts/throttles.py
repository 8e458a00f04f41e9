"""Throttles for the unauthenticated account endpoints, keyed by client address."""

from rest_framework.throttling import SimpleRateThrottle


class ClientAddressThrottle(SimpleRateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(ClientAddressThrottle):
    scope = "login"


class RegisterThrottle(ClientAddressThrottle):
    scope = "register"


class TokenThrottle(ClientAddressThrottle):
    scope = "token"
