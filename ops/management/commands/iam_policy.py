"""Print the least-privilege IAM policy of the app's role (or of the operator's) as JSON.

    python manage.py iam_policy                         # account from ANALYSIS_QUEUE_URL
    python manage.py iam_policy --account-id 123456789012 --bucket my-bucket
    python manage.py iam_policy --operator              # what create_tables needs
    python manage.py iam_policy --account-id 123456789012 --no-s3   # images on disk

Resources come from settings: the DYNAMODB_*_TABLE names (and their indexes),
S3_BUCKET_NAME, ANALYSIS_QUEUE_URL and the SES identity of EMAIL_FROM; options override
them. The actions are the ones the code calls (``ops/iam.py``); a queue that is not
configured is left out. With DEBUG off the app's policy needs a bucket and an SES
identity that is not a local name ("localhost" of the default EMAIL_FROM): printed
without them, the role met AccessDenied at the first upload and the first email. Leave
one out on purpose with --no-s3 or --no-ses.
"""

import json
import re
from dataclasses import replace

import boto3
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.checks import LOCAL_HOSTS
from dermalens_site.ses import sends_with_ses
from ops.iam import (
    Resources,
    app_policy,
    configured_ses_identity,
    operator_policy,
    parse_queue_url,
    resources_from_settings,
)

ACCOUNT_ID = re.compile(r"^\d{12}$")


class Command(BaseCommand):
    help = "Print the IAM policy (JSON) for the configured tables, bucket and queue."

    def add_arguments(self, parser):
        parser.add_argument(
            "--account-id", help="the AWS account (default: the one in ANALYSIS_QUEUE_URL)"
        )
        parser.add_argument("--region", help="default: AWS_REGION")
        parser.add_argument("--bucket", help="default: S3_BUCKET_NAME")
        parser.add_argument("--queue-url", help="default: ANALYSIS_QUEUE_URL")
        parser.add_argument(
            "--ses-identity",
            help="the SES identity mail is sent as (default: AWS_SES_IDENTITY, else the "
            "domain of EMAIL_FROM, when EMAIL_BACKEND is SES)",
        )
        parser.add_argument("--partition", default="aws", help="aws, aws-cn or aws-us-gov")
        parser.add_argument(
            "--operator",
            action="store_true",
            help="the policy of the operator who runs create_tables, not the app's",
        )
        parser.add_argument(
            "--no-s3",
            action="store_true",
            help="no S3 rights: scan images stay on the host's disk (no S3_BUCKET_NAME)",
        )
        parser.add_argument(
            "--no-ses",
            action="store_true",
            help="no SES rights: this role sends no account email through Amazon SES",
        )

    def handle(self, *args, **options):
        queue_url = options["queue_url"] or settings.ANALYSIS_QUEUE_URL
        given = options["account_id"]
        if given is not None and not ACCOUNT_ID.match(given):
            raise CommandError(f"--account-id is an AWS account's 12 digits, not {given!r}.")
        if queue_url and self.account_of(queue_url) is None:
            source = "--queue-url" if options["queue_url"] else "ANALYSIS_QUEUE_URL"
            raise CommandError(
                f"{source} is not an SQS queue's URL (https://sqs.<region>.amazonaws.com/"
                f"<account>/<name>): {queue_url!r}."
            )
        account_id = given or self.account_of(queue_url)
        if not account_id:
            raise CommandError(
                "Give --account-id (12 digits); without a queue (ANALYSIS_QUEUE_URL) it "
                "cannot be read from the queue's URL."
            )
        region = options["region"] or settings.AWS_REGION
        known = boto3.session.Session().get_available_regions(
            "dynamodb", partition_name=options["partition"]
        )
        if region not in known:
            # A warning: a region newer than this botocore is not in its list.
            self.stderr.write(
                f"Warning: {region!r} is no region of the {options['partition']} partition "
                "that this botocore knows (--region, or AWS_REGION): check its spelling."
            )
        try:
            resources = resources_from_settings(
                account_id=account_id,
                region=region,
                bucket=options["bucket"],
                queue_url=queue_url or "",
                ses_identity=options["ses_identity"],
                partition=options["partition"],
            )
        except ValueError as err:
            raise CommandError(str(err)) from err
        if options["operator"]:
            policy = operator_policy(resources)
        else:
            policy = app_policy(self.app_resources(resources, options))
        self.stdout.write(json.dumps(policy, indent=2))

    def app_resources(self, resources: Resources, options: dict) -> Resources:
        """``resources`` without S3 or SES when asked; with DEBUG off, refused by name
        when either is missing otherwise (a warning on stderr with DEBUG on)."""
        if options["no_s3"]:
            resources = replace(resources, bucket_arn=None, objects_arn=None)
        if options["no_ses"]:
            resources = replace(resources, ses_identity_arn=None)
        missing = []
        if resources.bucket_arn is None and not options["no_s3"]:
            missing.append(
                "no S3 bucket for the scan images: set S3_BUCKET_NAME or give --bucket "
                "(--no-s3 if the images stay on the host's disk)"
            )
        if not options["no_ses"]:
            missing += self.missing_ses_identity(options["ses_identity"])
        if not missing:
            return resources
        if not settings.DEBUG:
            raise CommandError(
                f"The role's policy would lack what DermaLens calls: {'; '.join(missing)}."
            )
        for gap in missing:
            self.stderr.write(f"Warning: {gap} (DEBUG is on: printed anyway).")
        return resources

    @staticmethod
    def missing_ses_identity(given: str | None) -> list[str]:
        identity = given or configured_ses_identity()
        if identity is None and not sends_with_ses():
            return []  # account email does not go through SES
        domain = (identity or "").rpartition("@")[2]
        if domain and domain not in LOCAL_HOSTS and "." in domain:
            return []
        if given:
            source = f"--ses-identity {given!r}"
        elif settings.AWS_SES_IDENTITY:
            source = f"AWS_SES_IDENTITY {settings.AWS_SES_IDENTITY!r}"
        else:
            source = f"EMAIL_FROM {settings.DEFAULT_FROM_EMAIL!r}"
        return [
            f"{source} names no SES identity one can verify: set EMAIL_FROM to an address "
            "of a domain verified in Amazon SES (or AWS_SES_IDENTITY, or give "
            "--ses-identity; --no-ses if this role sends no account email)"
        ]

    @staticmethod
    def account_of(queue_url: str | None) -> str | None:
        parts = parse_queue_url(queue_url) if queue_url else None
        return parts["account"] if parts else None
