"""OpenAPI generation details (drf-spectacular)."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        # Every list here answers one page object ({"items", "next_cursor"}), never a
        # bare array, so no response is wrapped in one.
        return False
