"""The IAM actions DermaLens calls, and the least-privilege policies built from them.

    policy = app_policy(resources_from_settings(account_id="123456789012"))

One list per kind of resource, each action with the code that needs it. The
``iam_policy`` command prints these policies, ``deploy/make_cloudformation.py`` puts the
same ones into the CloudFormation template, and ``tests/test_iam_policy.py`` fails when
the code calls an operation that no list grants, or a list grants what nothing calls.
The app's role never creates or changes tables: ``create_tables`` runs once with an
operator's role (``operator_policy``).
"""

import re
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from django.conf import settings

from dermalens_site.ses import sends_with_ses
from dynamo.tables import ALL_TABLES

# A resource is an ARN, or (in the CloudFormation template) an intrinsic function.
Resource = str | dict[str, Any]

# On each table: every item operation of the table managers (TransactWriteItems is
# authorised per item: PutItem, UpdateItem, DeleteItem and ConditionCheckItem).
DYNAMODB_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",  # scans.get_many (compare)
    "dynamodb:BatchWriteItem",  # deleting a plan, a chat session, an account (erasure)
    "dynamodb:ConditionCheckItem",  # plans: a check-in needs its plan (TransactWriteItems)
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",  # /health/ready and create_tables --check
    "dynamodb:DescribeTimeToLive",  # create_tables --check (the TTL attribute)
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",  # the ops users list (a bounded, filtered Scan); remeasure_scans
    "dynamodb:UpdateItem",
)
# On each table's indexes: email-index, scan-date-index, session-index, ...
DYNAMODB_INDEX_ACTIONS = ("dynamodb:Query",)
# ListTables has no resource: create_tables --check calls it to see DynamoDB answers.
DYNAMODB_ACCOUNT_ACTIONS = ("dynamodb:ListTables",)
# On the scan images: django-storages' save, open (HeadObject and GetObject), delete.
# Uploads send no ACL (the bucket has ACLs disabled), so PutObjectAcl is not needed. A
# file over s3transfer's 8 MB threshold goes up in parts, and a failed one is aborted.
S3_OBJECT_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:PutObject",
)
# On the bucket: listdir (privacy export and erasure walk a user's prefix), and without
# it S3 answers 403 instead of 404 for a missing key, which the code reads as an outage.
S3_BUCKET_ACTIONS = ("s3:ListBucket",)
# On the jobs queue (ANALYSIS_QUEUE_URL), through Celery's broker, kombu: the web process
# sends; a worker receives, deletes a message once its job is done, reads the redrive
# policy before it rejects one, and hands unfinished messages back when it stops. The
# queue is predefined, so nothing lists or creates queues. The dead-letter queue needs
# nothing: SQS itself moves messages there.
SQS_QUEUE_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
)
# On the sender's SES identity: account email (accounts/mail.py). django-ses sends each
# message whole, as MIME (SES v1 SendRawEmail), so its plain-text part is as Django built it.
SES_IDENTITY_ACTIONS = ("ses:SendRawEmail",)

# create_tables, run by an operator: the app's role has none of the writes here.
OPERATOR_TABLE_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTimeToLive",
)

# Calls whose IAM action has another name.
ACTION_OF_OPERATION = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
}
# TransactWriteItems is authorised item by item.
ACTION_OF_TRANSACTION_ITEM = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Granted for calls that only rare paths make, so a test run may not see them.
RARELY_CALLED = {
    "s3:ListBucket": "a missing key must answer 404, not 403; privacy export and erasure",
    "s3:AbortMultipartUpload": "s3transfer aborts a failed upload of a file over 8 MB",
    # kombu's receive signs with botocore but sends through pycurl, past botocore's events.
    "sqs:ReceiveMessage": "every job worker; kombu's asynchronous receive",
    "sqs:GetQueueAttributes": "kombu reads the redrive policy when a job fails",
    "sqs:ChangeMessageVisibility": "kombu hands back unfinished messages when a worker stops",
}

# https://sqs.<region>.amazonaws.com/<account>/<name>, or the legacy
# https://<region>.queue.amazonaws.com/<account>/<name>
QUEUE_URL = re.compile(
    r"^https://(?:sqs\.(?P<region>[a-z0-9-]+)|(?P<legacy_region>[a-z0-9-]+)\.queue)"
    r"\.amazonaws\.com(?:\.cn)?/(?P<account>\d{12})/(?P<name>[\w-]+(?:\.fifo)?)$"
)


@dataclass(frozen=True)
class Resources:
    """The ARNs a policy names; None leaves that service out (not configured)."""

    table_arns: tuple[Resource, ...]
    index_arns: tuple[Resource, ...]
    bucket_arn: Resource | None = None
    objects_arn: Resource | None = None
    queue_arn: Resource | None = None
    ses_identity_arn: Resource | None = None


def app_policy(resources: Resources) -> dict[str, Any]:
    """The app's role policy: item access to the tables, the bucket and the queue."""
    statements = [
        statement("DynamoDBTables", DYNAMODB_TABLE_ACTIONS, resources.table_arns),
        statement("DynamoDBIndexes", DYNAMODB_INDEX_ACTIONS, resources.index_arns),
        statement("DynamoDBListTables", DYNAMODB_ACCOUNT_ACTIONS, ("*",)),
    ]
    if resources.bucket_arn is not None:
        if resources.objects_arn is None:
            raise ValueError("a bucket's objects ARN comes with its ARN")
        statements += [
            statement("ScanImagesBucket", S3_BUCKET_ACTIONS, (resources.bucket_arn,)),
            statement("ScanImages", S3_OBJECT_ACTIONS, (resources.objects_arn,)),
        ]
    if resources.queue_arn is not None:
        statements.append(statement("AnalysisQueue", SQS_QUEUE_ACTIONS, (resources.queue_arn,)))
    if resources.ses_identity_arn is not None:
        statements.append(
            statement("AccountEmail", SES_IDENTITY_ACTIONS, (resources.ses_identity_arn,))
        )
    return {"Version": "2012-10-17", "Statement": statements}


def operator_policy(resources: Resources) -> dict[str, Any]:
    """What ``create_tables`` needs: create the tables, turn on TTL, wait until ACTIVE."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            statement("CreateTables", OPERATOR_TABLE_ACTIONS, resources.table_arns),
            statement("DynamoDBListTables", DYNAMODB_ACCOUNT_ACTIONS, ("*",)),
        ],
    }


def statement(sid: str, actions: tuple[str, ...], resources: tuple[Resource, ...]) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources[0] if len(resources) == 1 else list(resources),
    }


def actions_for_call(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions one boto3 call needs (``service`` is the IAM prefix: dynamodb, s3, sqs)."""
    if service == "dynamodb" and operation == "TransactWriteItems":
        return {
            ACTION_OF_TRANSACTION_ITEM[kind]
            for item in params.get("TransactItems", [])
            for kind in item
        }
    name = f"{service}:{operation}"
    actions = {ACTION_OF_OPERATION.get(name, name)}
    if service == "s3" and "ACL" in params:
        actions.add("s3:PutObjectAcl")
    return actions


def granted_actions() -> frozenset[str]:
    """Every action of the app's policy."""
    return frozenset(
        (
            *DYNAMODB_TABLE_ACTIONS,
            *DYNAMODB_INDEX_ACTIONS,
            *DYNAMODB_ACCOUNT_ACTIONS,
            *S3_OBJECT_ACTIONS,
            *S3_BUCKET_ACTIONS,
            *SQS_QUEUE_ACTIONS,
            *SES_IDENTITY_ACTIONS,
        )
    )


def parse_queue_url(url: str) -> dict[str, str] | None:
    """region, account and name of an SQS queue URL; None when it is not one of AWS's."""
    match = QUEUE_URL.match(url)
    if match is None:
        return None
    return {
        "region": match["region"] or match["legacy_region"],
        "account": match["account"],
        "name": match["name"],
    }


def resources_from_settings(
    *,
    account_id: str,
    region: str | None = None,
    bucket: str | None = None,
    queue_url: str | None = None,
    ses_identity: str | None = None,
    partition: str = "aws",
) -> Resources:
    """ARNs of the configured tables (and their indexes), bucket, queue and SES identity."""
    region = region or settings.AWS_REGION
    bucket = bucket if bucket is not None else settings.S3_BUCKET_NAME
    queue_url = queue_url if queue_url is not None else settings.ANALYSIS_QUEUE_URL
    table_arns = tuple(
        f"arn:{partition}:dynamodb:{region}:{account_id}:table/{t.name}" for t in ALL_TABLES
    )
    index_arns = tuple(
        f"{arn}/index/*"
        for arn, t in zip(table_arns, ALL_TABLES, strict=True)
        if t.global_indexes or t.local_indexes
    )
    queue_arn = None
    if queue_url:
        parts = parse_queue_url(queue_url)
        if parts is None:
            raise ValueError(f"{queue_url!r} is not an SQS queue URL.")
        queue_arn = f"arn:{partition}:sqs:{parts['region']}:{parts['account']}:{parts['name']}"
    ses_identity = ses_identity or configured_ses_identity()
    # SES may live in another region than the tables (AWS_SES_REGION).
    ses_region = (
        settings.AWS_SES_REGION_NAME
        if settings.AWS_SES_REGION_NAME != settings.AWS_REGION
        else region
    )
    return Resources(
        table_arns=table_arns,
        index_arns=index_arns,
        bucket_arn=f"arn:{partition}:s3:::{bucket}" if bucket else None,
        objects_arn=f"arn:{partition}:s3:::{bucket}/*" if bucket else None,
        queue_arn=queue_arn,
        ses_identity_arn=(
            f"arn:{partition}:ses:{ses_region}:{account_id}:identity/{ses_identity}"
            if ses_identity
            else None
        ),
    )


def configured_ses_identity() -> str | None:
    """AWS_SES_IDENTITY, else the domain of EMAIL_FROM; None when mail does not go to SES."""
    if not sends_with_ses():
        return None
    if settings.AWS_SES_IDENTITY:
        return settings.AWS_SES_IDENTITY
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return address.rpartition("@")[2] or None
