"""What an ``OPTIONS`` request answers: DRF's account of the endpoint (its name, the media
types it renders and parses, the fields of what it takes) without the view's docstring.
The docstrings are written for the people who maintain the code and name its internal
functions; what a client needs of an endpoint is in the API's schema
(``/api/v1/schema``)."""

from rest_framework.metadata import SimpleMetadata


class APIMetadata(SimpleMetadata):
    def determine_metadata(self, request, view):
        metadata = super().determine_metadata(request, view)
        metadata.pop("description", None)
        # What the view parses, as it says itself (DRF reads the class's default list,
        # which the scans' uploads do not use).
        metadata["parses"] = [parser.media_type for parser in view.get_parsers()]
        return metadata
