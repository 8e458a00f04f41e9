"""OpenAPI generation details (drf-spectacular)."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        # Every list here answers one page object ({"items", "next_cursor"}), so no
        # response body is wrapped in an array. Without a serializer the question is
        # about the operation ("list" operation ids), and the usual answer stands.
        if serializer is not None:
            return False
        return super()._is_list_view()
