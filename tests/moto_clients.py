"""boto3 clients of moto's server (S3, SQS, SES in one), for tests and benchmarks.

    sqs = moto_client("sqs", endpoint)

moto accepts any credentials; these name themselves as local ones.
"""

from typing import Any

import boto3

REGION = "us-east-1"
LOCAL_KEY = "dermalenslocal"


def moto_client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_KEY,
    )
