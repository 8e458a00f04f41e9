"""Jobs sent to SQS share one boto3 client per process, however many broker connections
Celery opens for them (``dermalens_site.celery.SharedClientChannel``)."""

from concurrent.futures import ThreadPoolExecutor

from kombu.transport import SQS

from jobs.services import enqueue
from scans.tasks import analyze_scan
from scans.tests.queues import messages_in


def test_jobs_sent_at_once_all_arrive_through_one_sqs_client(jobs_queue, monkeypatch):
    made = []
    make = SQS.Channel.new_sqs_client

    def counting(self, *args, **kwargs):
        made.append(args)
        return make(self, *args, **kwargs)

    monkeypatch.setattr(SQS.Channel, "new_sqs_client", counting)

    # More at once than Celery's pool of broker connections (10): each connection of
    # kombu's own channel would make a client of its own.
    with ThreadPoolExecutor(max_workers=24) as pool:
        sent = [
            pool.submit(enqueue, analyze_scan, user_id="u", scan_id=f"scan-{n}") for n in range(24)
        ]
        for job in sent:
            job.result()

    assert messages_in(jobs_queue.sqs, jobs_queue.url) == 24
    # The queue is new to this process (its settings changed): one client, made once.
    assert len(made) == 1
