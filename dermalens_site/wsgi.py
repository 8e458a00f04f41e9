"""WSGI entry point for gunicorn: ``gunicorn dermalens_site.wsgi``.

Each worker imports this once (a gevent worker after it has monkey-patched the standard
library: deploy/gunicorn.conf.py). After Django is set up, the DynamoDB clients built
(the shared one and the status checks', which the load balancer's first health check
uses; botocore loads its service model then, not on the first request) and the AI providers
made (google-genai loads then, and the pydantic models of a Gemini call are built, not
in the first request of a worker while hundreds more wait behind it; a bad AI setting
stops start-up), the URL configuration resolved (every view and service module
imported), the token backend made (PyJWT and cryptography imported for the first token
checked), the Celery app finalised (its tasks bound), with a jobs queue the process's
SQS client made, on S3 the worker thread's S3 connection made, and with SES the
process's SES client made (no request is sent for any of them): each of these, left to
the first request that needs it, held the worker's one thread for 20 ms to a few hundred
while a burst waited behind it (gevent's blocking monitor saw them at the start of
bench/concurrency.py's uploads, on every fresh worker). Then everything loaded so far is
moved out of the garbage collector's reach with ``gc.freeze()``: some 140,000 objects
that live as long as the worker. Full collections, which a list page of scans sets off
every few requests, then no longer walk them (in the overhead benchmark's process, the
page took about 1.3 ms less on average).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dermalens_site.settings")

django_application = get_wsgi_application()

from dermalens_site.chunked_bodies import ChunkedBodies  # noqa: E402 (reads the settings)

# A chunked request body is read here and reaches Django with its length.
application = ChunkedBodies(django_application)

from django.core.mail import get_connection  # noqa: E402 (needs the settings configured above)
from django.urls import get_resolver  # noqa: E402
from rest_framework_simplejwt.state import token_backend  # noqa: E402, F401 (PyJWT, cryptography)

from ai.providers import get_provider  # noqa: E402
from dermalens_site.celery import app as celery_app  # noqa: E402
from dermalens_site.celery import make_sqs_client  # noqa: E402
from dermalens_site.ses import sends_with_ses  # noqa: E402
from dynamo.client import get_client, get_status_client  # noqa: E402
from jobs.services import jobs_are_queued  # noqa: E402
from scans import storage  # noqa: E402

get_client()
get_status_client()
get_provider("analysis")
get_provider("chat")
get_resolver().url_patterns  # noqa: B018 (imports the views and what they import)
celery_app.finalize(auto=True)
celery_app.backend  # noqa: B018 (none: made once, not at the first job queued)
if jobs_are_queued():
    make_sqs_client()
storage.connect_to_s3()
if sends_with_ses():
    get_connection().open()  # the process's SES client (dermalens_site/ses.py)
gc.freeze()
