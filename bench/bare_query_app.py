"""The managers' Query behind a bare WSGI callable: what the server alone adds to it.

    gunicorn --config deploy/gunicorn.conf.py --pythonpath bench bare_query_app

``bench/overhead.py`` serves this with the production settings beside the API and
times ``GET /?user=<id>`` with the API's own requests: the Query of the list page
(``ScanIndexForward=False``, 20 items), sent on the managers' client, its items
written back as JSON. No Django request, no DRF, no authentication, no decoding: the
time it adds to the bare Query is gunicorn's, HTTP's and gevent's, a floor under any
WSGI application served this way. The worker is set up as the API's is (it imports
``dermalens_site.wsgi``), so the client, the monkey-patching and the frozen heap match.
It reads any account's scans without asking who is asking: a measuring device, served
by the benchmark on 127.0.0.1 only, never part of a deployment.
"""

from urllib.parse import parse_qs

import orjson
from django.conf import settings

from dermalens_site.wsgi import application as api_application  # the worker's set-up
from dynamo.client import get_client

PAGE_SIZE = 20


def application(environ, start_response):
    (user_id,) = parse_qs(environ.get("QUERY_STRING", "")).get("user", [""])
    if environ["PATH_INFO"] != "/" or not user_id:
        # The benchmark's readiness check asks for the API's health; the API answers it.
        return api_application(environ, start_response)
    answer = get_client().query(
        TableName=settings.DYNAMODB_SCANS_TABLE,
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ScanIndexForward=False,
        Limit=PAGE_SIZE,
    )
    body = orjson.dumps(answer["Items"])
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
