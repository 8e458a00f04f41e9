"""WSGI entry point for gunicorn: ``gunicorn dermalens_site.wsgi``.

Each worker imports this once. After Django is set up and the DynamoDB client built
(botocore loads its service model then, not on the first request), everything loaded so
far is moved out of the garbage collector's reach with ``gc.freeze()``: some 140,000
objects that live as long as the worker. Full collections, which a list page of scans
sets off every few requests, then no longer walk them (in the overhead benchmark's
process, the page took about 1.3 ms less on average).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dermalens_site.settings")

application = get_wsgi_application()

from dynamo.client import get_client  # noqa: E402 (needs the settings configured above)

get_client()
gc.freeze()
