"""One DynamoDB client per process, configured from settings once.

    from dynamo.client import get_client
    get_client().describe_table(TableName=...)

boto3 clients are thread-safe and hold the connection pool, so every table manager
shares this one. Credentials come from boto3's default chain (the IAM role in
production); dummy values are used only against DynamoDB Local, which accepts any.

The client reads the answers of item-reading operations (GetItem, Query, Scan,
BatchGetItem, TransactGetItems) as plain JSON: see ``ItemResponseParser``.

The table status checks (readiness, the dashboard, ``table_status``) have a client of
their own, ``get_status_client()``: one attempt with short timeouts, so that a DynamoDB
that does not answer is reported in seconds rather than after every retry.
"""

import functools
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.session
import orjson
from botocore.config import Config
from botocore.exceptions import InvalidRegionError
from botocore.parsers import JSONParser, ResponseParserFactory
from django.conf import settings

from dynamo.errors import Unavailable

if TYPE_CHECKING:  # type stubs are a development tool, not a runtime need
    from mypy_boto3_dynamodb import DynamoDBClient

# DynamoDB Local accepts any letters-and-digits credentials; botocore needs some to sign.
LOCAL_CREDENTIALS = {
    "aws_access_key_id": "dermalenslocal",
    "aws_secret_access_key": "dermalenslocal",
}

# Output shapes made of items, counts, keys and consumed capacity: no timestamps, and
# binary only as B and BS attribute values.
ITEM_OUTPUTS = frozenset(
    {"GetItemOutput", "QueryOutput", "ScanOutput", "BatchGetItemOutput", "TransactGetItemsOutput"}
)
# A B or BS attribute value, or (conservatively) text that merely looks like one.
BINARY_VALUE = re.compile(rb'"BS?"\s*:')


class ItemResponseParser(JSONParser):
    """botocore's JSON parser, without its walk of the service model for item answers.

    botocore checks every attribute value of an answer against the model: for a page of
    20 scans, some 2,000 values, which takes about as long as the call itself
    (boto/boto3#2928). For the item outputs the walk changes one thing only: base64
    binary values become bytes. So their JSON is taken as it is, unless it holds a
    binary value, which goes the whole way as before. orjson reads the JSON (about a
    fifth faster than the json module on a page of scans). Errors are parsed as before.
    """

    def _handle_json_body(self, raw_body: bytes, shape: Any) -> dict[str, Any]:
        if shape is not None and shape.name in ITEM_OUTPUTS and not BINARY_VALUE.search(raw_body):
            try:
                return orjson.loads(raw_body) if raw_body else {}
            except orjson.JSONDecodeError:
                # botocore's answer to bad JSON (private hooks: not in botocore's stubs)
                return cast(dict[str, Any], self._parse_body_as_json(raw_body))  # type: ignore[attr-defined]
        return cast(dict[str, Any], super()._handle_json_body(raw_body, shape))  # type: ignore[misc]


class DynamoDBParserFactory(ResponseParserFactory):
    """The client's response parsers, one per protocol, made once.

    botocore asks for a new parser for every answer, though a parser keeps nothing of an
    answer (it is set up in ``__init__`` alone, so one serves every thread at once); each
    was also a small reference cycle left to the garbage collector.
    """

    def __init__(self) -> None:
        super().__init__()
        self._parsers: dict[str, Any] = {}

    def set_parser_defaults(self, **kwargs: Any) -> None:
        super().set_parser_defaults(**kwargs)
        self._parsers = {}

    def create_parser(self, protocol_name: str) -> Any:
        parser = self._parsers.get(protocol_name)
        if parser is None:
            if protocol_name == "json":
                parser = ItemResponseParser(**self._defaults)  # type: ignore[attr-defined]
            else:
                parser = super().create_parser(protocol_name)
            self._parsers = {**self._parsers, protocol_name: parser}
        return parser


def client_config() -> Config:
    return Config(
        region_name=settings.AWS_REGION,
        connect_timeout=settings.DYNAMODB_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.DYNAMODB_READ_TIMEOUT_SECONDS,
        # Attempts in all, as DYNAMODB_MAX_ATTEMPTS says (botocore's max_attempts would
        # count the retries alone: one attempt more, a slow call's wait a timeout longer).
        retries={"mode": "standard", "total_max_attempts": settings.DYNAMODB_MAX_ATTEMPTS},
        # A gevent worker has many requests in flight at once (DYNAMODB_MAX_POOL_CONNECTIONS);
        # botocore's default of 10 is kept as the floor.
        max_pool_connections=max(10, settings.DYNAMODB_MAX_POOL_CONNECTIONS),
        tcp_keepalive=True,
    )


def status_client_config() -> Config:
    """One attempt, and DYNAMODB_STATUS_TIMEOUT_SECONDS to connect and to answer: a status
    check says "unreachable" when DynamoDB is slow; it does not wait for it."""
    timeout = settings.DYNAMODB_STATUS_TIMEOUT_SECONDS
    return Config(
        region_name=settings.AWS_REGION,
        connect_timeout=timeout,
        read_timeout=timeout,
        # botocore's max_attempts counts retries; total_max_attempts counts every attempt.
        retries={"mode": "standard", "total_max_attempts": 1},
        tcp_keepalive=True,
    )


def client_arguments() -> dict[str, Any]:
    """The endpoint and (only against DynamoDB Local) credentials, from settings."""
    endpoint = settings.AWS_DYNAMODB_ENDPOINT
    return {"endpoint_url": endpoint, **LOCAL_CREDENTIALS} if endpoint else {}


# Called with each new client: botocore event hooks that must outlive a reset_client()
# (``dynamo.metrics.publish_dynamodb_metrics`` adds one).
CLIENT_HOOKS: list[Callable[[Any], None]] = []


# Held while the client is made: the analysis worker's threads all ask for it on their
# first job, and without the lock each of them would build a client of its own (about
# 0.1 s of CPU each, the service model read and parsed again every time).
_creating = threading.Lock()


def get_client() -> "DynamoDBClient":
    """Return the process's DynamoDB client, creating it on first use."""
    with _creating:
        return _made_client()


def get_status_client() -> "DynamoDBClient":
    """Return the process's client for DescribeTable in status checks (see above)."""
    with _creating:
        return _made_status_client()


@functools.cache
def _made_client() -> "DynamoDBClient":
    return _new_client(client_config())


@functools.cache
def _made_status_client() -> "DynamoDBClient":
    return _new_client(status_client_config())


@functools.cache
def _session() -> boto3.session.Session:
    # One session for both clients: the second reuses the service model its loader read.
    core = botocore.session.get_session()
    core.register_component("response_parser_factory", DynamoDBParserFactory())
    return boto3.session.Session(botocore_session=core)


def _new_client(config: Config) -> "DynamoDBClient":
    try:
        client = _session().client("dynamodb", config=config, **client_arguments())
    except InvalidRegionError as err:  # AWS_REGION is no region name: nothing can be called
        raise Unavailable(cause=err) from err
    for hook in CLIENT_HOOKS:
        hook(client)
    return client


def made_clients() -> list["DynamoDBClient"]:
    """Every client this process has made so far: where a hook added later must attach."""
    return [made() for made in (_made_client, _made_status_client) if made.cache_info().currsize]


def reset_client() -> None:
    """Forget the cached clients (after the endpoint setting changes, as in tests)."""
    with _creating:
        _made_client.cache_clear()
        _made_status_client.cache_clear()
        _session.cache_clear()  # and the credentials it found
