"""The API's JSON renderer: orjson, and an answer's objects freed as soon as it is sent.

DRF ties every answer into reference cycles (encode/django-rest-framework#7250):

- ``Serializer.data`` is a ``ReturnList``/``ReturnDict`` that refers back to its
  serializer, which keeps it in ``_data``; a serializer and its fields refer to each
  other, and the serializer keeps what it was given (``instance``, ``_args``), so a page
  of scans and their decoded analyses sit in the cycle;
- the view keeps its answer (``view.response``) and the answer its view, its request and
  itself (``response.renderer_context``).

Reference counting cannot free a cycle: the whole answer, the items read and the
serialized data, waited for the garbage collector, which a list page set off two or
three times per request, walking each time through the pages still in flight. The JSON
renderer is the last to need these references, so once the bytes are made they are let
go: the data and everything it was made from are freed when the server drops the
answer, and the collector is left the small view and serializer skeletons (on the
overhead benchmark's list page, about 0.3 ms less per request and a third as many
collections). ``response.data`` itself is kept: tests read it after the answer.
"""

from typing import Any

from drf_orjson_renderer.renderers import ORJSONRenderer  # type: ignore[import-untyped]  # untyped

# What a serializer keeps of its input and output; its fields and settings stay.
SERIALIZER_HOLDINGS = ("instance", "initial_data", "_data", "_validated_data")


def release_serializer(serializer: Any) -> None:
    """Drop what a serializer (and, for ``many=True``, its child) holds of its data."""
    seen: set[int] = set()
    while serializer is not None and id(serializer) not in seen:
        seen.add(id(serializer))
        attributes = getattr(serializer, "__dict__", None)
        if attributes is None:
            return
        for name in SERIALIZER_HOLDINGS:
            if name in attributes:
                attributes[name] = None
        # Field.__new__ keeps the arguments it was made with (the page, for a list).
        if "_args" in attributes:
            attributes["_args"] = ()
        if "_kwargs" in attributes:
            attributes["_kwargs"] = {}
        serializer = attributes.get("child")


class APIJSONRenderer(ORJSONRenderer):
    def render(
        self,
        data: Any,
        media_type: str | None = None,
        renderer_context: Any = None,
    ) -> bytes:
        rendered = super().render(data, media_type, renderer_context)
        # A serializer's data is the answer (a scan) or one of its values (a page's items).
        for value in (data, *data.values()) if isinstance(data, dict) else (data,):
            serializer = getattr(value, "serializer", None)
            if serializer is not None:
                release_serializer(serializer)
        if isinstance(renderer_context, dict):
            # The answer's own context (response.renderer_context): its view, its
            # request and the answer itself.
            view = renderer_context.get("view")
            if view is not None and getattr(view, "response", None) is not None:
                view.response = None
            renderer_context.clear()
        return rendered
