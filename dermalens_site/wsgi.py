"""WSGI entry point for gunicorn: ``gunicorn dermalens_site.wsgi``.

Each worker imports this once (a gevent worker after it has monkey-patched the standard
library: deploy/gunicorn.conf.py). After Django is set up, the DynamoDB client built
(botocore loads its service model then, not on the first request) and the AI providers
made (google-genai and its pydantic models load then, not in the first request of a
worker while hundreds more wait behind it; a bad AI setting stops start-up), everything
loaded so far is moved out of the garbage collector's reach with ``gc.freeze()``: some 140,000
objects that live as long as the worker. Full collections, which a list page of scans
sets off every few requests, then no longer walk them (in the overhead benchmark's
process, the page took about 1.3 ms less on average).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dermalens_site.settings")

application = get_wsgi_application()

from ai.providers import get_provider  # noqa: E402 (needs the settings configured above)
from dynamo.client import get_client  # noqa: E402

get_client()
get_provider("analysis")
get_provider("chat")
gc.freeze()
