"""S3 connections in the web workers: one per worker thread, not one per request.

The web workers are gevent's (deploy/gunicorn.conf.py), where ``threading.local`` is
per greenlet, that is per request. django-storages keeps its boto3 connection in one,
so each request that signed an image URL or stored a file made a boto3 session and an
S3 resource again (about 0.15 s of CPU). The check runs in a process patched as a
gevent worker is, against the moto S3 server the suite uses for S3.
"""

from tests.gevent_process import run_patched

REQUESTS_AS_A_GEVENT_WORKER_RUNS_THEM = """
import json
import django
import gevent

django.setup()

from scans import storage

def request(number):
    key = f"user/scan-{number}/image.jpg"
    storage.save_scan_file(key, b"jpeg bytes")  # a file stored, over the network
    url = storage.new_image_url(key)             # a URL signed
    return id(storage.scan_storage().connection), url

greenlets = gevent.joinall([gevent.spawn(request, number) for number in range(20)])
answers = [greenlet.value for greenlet in greenlets]
print(json.dumps({
    "connections": len({connection for connection, _ in answers}),
    "signed": sum("X-Amz-Signature=" in url for _, url in answers),
}))
"""


def test_requests_in_a_gevent_worker_share_the_worker_threads_s3_connection(s3_storage):
    outcome = run_patched(
        REQUESTS_AS_A_GEVENT_WORKER_RUNS_THEM,
        S3_BUCKET_NAME=s3_storage.bucket,
        AWS_S3_ENDPOINT=s3_storage.meta.endpoint_url,
    )

    assert outcome == {"connections": 1, "signed": 20}
    stored = s3_storage.list_objects_v2(Bucket=s3_storage.bucket, Prefix="user/")
    assert stored["KeyCount"] == 20
