"""Response shape of a job."""

from rest_framework import serializers

from dynamo.jobs import JOB_STATUSES


class JobSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    kind = serializers.CharField(help_text="What was asked for, e.g. `delete_chat_session`.")
    subject_id = serializers.CharField(
        allow_null=True, help_text="The id of what the job works on (e.g. the session)."
    )
    # A plain string in the schema: "status" choice sets of other resources share the name.
    status = serializers.CharField(
        help_text=f"One of {', '.join(JOB_STATUSES)}; `failed` is retried by itself.",
    )
    done_items = serializers.IntegerField(help_text="Items dealt with so far.")
    error = serializers.CharField(allow_null=True, help_text="A reason code when `failed`.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def job_url(job_id: str) -> str:
    return f"/api/v1/jobs/{job_id}"


def accepted_body(job) -> dict:
    """The body of a 202: the job, and where to follow it."""
    return {**JobSerializer(job).data, "url": job_url(job.job_id)}


class AcceptedJobSerializer(JobSerializer):
    url = serializers.CharField(help_text="Where to follow the job: `GET` it until `done`.")
