"""One path whose HTTP methods belong to different apps, each routing its own view.

    path("users/me", shared_path("users/me", "accounts.urls", "privacy.urls")),

Django resolves a path to one view whatever the method, and DRF routes methods only
within one view. When two apps serve one resource (accounts: GET and PATCH /users/me;
privacy: DELETE /users/me), each routes the path in its own urls.py, and the root
urlconf puts ``shared_path`` first: it hands each request to the view of the first app
that answers its method. Neither app imports the other, and the OpenAPI schema documents
each app's own route (this dispatcher is not a DRF view, so the schema passes it over).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import resolve
from django.views.decorators.csrf import csrf_exempt

View = Callable[..., HttpResponse]


def shared_path(route: str, *urlconfs: str) -> View:
    """The view of ``route`` that dispatches by method to the views ``urlconfs`` route there."""
    if len(urlconfs) < 2:
        raise ValueError("shared_path joins the views of two or more urlconfs; use path().")
    views = [resolve("/" + route, urlconf=urlconf).func for urlconf in urlconfs]
    by_method: dict[str, View] = {}
    for view in views:
        for method in _methods_of(view):
            by_method.setdefault(method, view)
    allowed = ", ".join(sorted({*by_method, "OPTIONS"}))

    # Each DRF view does its own CSRF check (for session authentication only); this
    # dispatcher must not add Django's, which would refuse every bearer-token request.
    @csrf_exempt
    def dispatch(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A method no view answers goes to the first, which refuses it in the API's shape.
        view = by_method.get(request.method or "", views[0])
        response = view(request, *args, **kwargs)
        # Each view names its own methods (DRF sets Allow on every answer): the path's are all.
        if response.status_code == 405 or request.method == "OPTIONS" or "Allow" in response:
            response["Allow"] = allowed
        return response

    return dispatch


def _methods_of(view: View) -> list[str]:
    """The HTTP methods a DRF view answers (a viewset's mapped actions, an APIView's handlers)."""
    actions = getattr(view, "actions", None)
    if actions is not None:
        methods = {method.upper() for method in actions}
        if "GET" in methods:
            methods.add("HEAD")
    else:
        view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
        if view_class is None:
            raise ValueError(f"{view!r} is not a class-based view: its methods are unknown.")
        methods = {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
    methods.discard("OPTIONS")
    return sorted(methods)
