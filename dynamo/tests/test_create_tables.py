import io

import pytest
from django.core.management import CommandError, call_command

from dynamo.client import get_client
from dynamo.status import describe_tables
from dynamo.tables import ALL_TABLES, PLANS, SCANS, USERS
from dynamo.tests.factories import new_id


def run(*args):
    """The command's output, one line per table, by table name."""
    out = io.StringIO()
    call_command("create_tables", *args, stdout=out)
    return lines_by_table(out.getvalue())


def failing_check():
    """The lines and the error of a ``--check`` that must fail."""
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("create_tables", "--check", stdout=out)
    return lines_by_table(out.getvalue()), str(raised.value)


def lines_by_table(output):
    return {line.split(":")[0]: line for line in output.splitlines()}


def unique_table_name():
    return f"test-scratch-{new_id().lower()}"


def test_running_create_tables_again_changes_nothing():
    lines = run()
    assert set(lines) == {table.name for table in ALL_TABLES}
    assert all("exists" in line and "ACTIVE" in line for line in lines.values())


def test_the_check_finds_every_table_as_defined():
    lines = run("--check")
    assert set(lines) == {table.name for table in ALL_TABLES}
    assert all("schema matches" in line for line in lines.values())


def test_the_check_fails_on_a_missing_table(settings):
    settings.DYNAMODB_PLANS_TABLE = unique_table_name()
    lines, error = failing_check()
    assert lines[PLANS.name] == f"{PLANS.name}: MISSING"
    assert error.startswith("1 table(s)")
    assert all("schema matches" in lines[t.name] for t in ALL_TABLES if t is not PLANS)


def key(name, kind="HASH"):
    return {"AttributeName": name, "KeyType": kind}


def attribute(name, kind="S"):
    return {"AttributeName": name, "AttributeType": kind}


@pytest.mark.parametrize(
    ("setting", "schema", "attributes", "problem"),
    [
        (
            "DYNAMODB_PLANS_TABLE",
            [key("id")],
            [attribute("id")],
            "key schema differs",
        ),
        (
            "DYNAMODB_PLANS_TABLE",
            [key("user_id"), key("plan_id", "RANGE")],
            [attribute("user_id"), attribute("plan_id", "N")],
            "attribute plan_id is N, expected S",
        ),
        (
            "DYNAMODB_SCANS_TABLE",
            [key("user_id"), key("scan_id", "RANGE")],
            [attribute("user_id"), attribute("scan_id")],
            "index scan-date-index is missing",
        ),
    ],
    ids=["other-key", "other-attribute-type", "missing-index"],
)
def test_the_check_fails_on_a_table_unlike_its_definition(
    settings, scratch_tables, setting, schema, attributes, problem
):
    name = unique_table_name()
    get_client().create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
    )
    scratch_tables.append(name)
    setattr(settings, setting, name)

    lines, error = failing_check()

    assert "DIFFERS" in lines[name]
    assert problem in lines[name]
    assert error.startswith("1 table(s)")


def test_create_tables_fails_on_an_existing_table_unlike_its_definition(settings, scratch_tables):
    # An operator who runs it (not --check) learns it as well: the app would fail there.
    name = unique_table_name()
    get_client().create_table(
        TableName=name,
        KeySchema=[key("scan_id")],
        AttributeDefinitions=[attribute("scan_id")],
        BillingMode="PAY_PER_REQUEST",
    )
    scratch_tables.append(name)
    settings.DYNAMODB_SCANS_TABLE = name
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("create_tables", stdout=out)
    lines = lines_by_table(out.getvalue())
    assert "DIFFERS" in lines[name] and "key schema differs" in lines[name]
    assert str(raised.value).startswith("1 table(s)")
    assert all("ACTIVE" in lines[t.name] for t in ALL_TABLES if t is not SCANS)


def test_create_tables_creates_a_missing_table_with_its_time_to_live(settings, scratch_tables):
    settings.DYNAMODB_USERS_TABLE = unique_table_name()
    settings.DYNAMODB_SCANS_TABLE = unique_table_name()
    scratch_tables.extend([USERS.name, SCANS.name])

    lines = run()

    for table in (USERS, SCANS):
        assert lines[table.name] == f"{table.name}: created, ACTIVE"
        description = get_client().describe_table(TableName=table.name)["Table"]
        assert description["TableStatus"] == "ACTIVE"
        assert table.schema_differences(description) == []
    assert "exists" in lines[PLANS.name]
    ttl = get_client().describe_time_to_live(TableName=USERS.name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    assert all("schema matches" in line for line in run("--check").values())


def test_create_tables_fails_fast_when_dynamodb_does_not_answer(unreachable_dynamodb):
    with pytest.raises(CommandError, match="does not answer"):
        run()


def test_every_table_is_active():
    statuses = {status.name: status for status in describe_tables()}
    assert set(statuses) == {table.name for table in ALL_TABLES}
    assert all(status.status == "ACTIVE" and status.ready for status in statuses.values())


def test_a_missing_table_is_reported_missing(settings):
    settings.DYNAMODB_CHAT_TABLE = unique_table_name()
    statuses = {status.name: status for status in describe_tables()}
    assert statuses[settings.DYNAMODB_CHAT_TABLE].status == "MISSING"
    assert not statuses[settings.DYNAMODB_CHAT_TABLE].ready


def test_every_table_is_unreachable_when_dynamodb_does_not_answer(unreachable_dynamodb):
    assert {status.status for status in describe_tables()} == {"UNREACHABLE"}


def users_like_table(*, projection: str, ttl_attribute: str | None) -> str:
    """A users table with the right keys, its index projecting ``projection`` and its
    time to live on ``ttl_attribute`` (off when None)."""
    name = unique_table_name()
    get_client().create_table(
        TableName=name,
        KeySchema=[key("user_id")],
        AttributeDefinitions=[attribute("user_id"), attribute("email")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "email-index",
                "KeySchema": [key("email")],
                "Projection": {"ProjectionType": projection},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    if ttl_attribute:
        get_client().update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
        )
    return name


@pytest.mark.parametrize(
    ("projection", "ttl_attribute", "problems"),
    [
        ("KEYS_ONLY", "expires_at", ["index email-index projects KEYS_ONLY, expected ALL"]),
        ("ALL", "ttl", ["time to live is on ttl, expected expires_at"]),
        (
            "KEYS_ONLY",
            "valid_until",
            [
                "index email-index projects KEYS_ONLY, expected ALL",
                "time to live is on valid_until, expected expires_at",
            ],
        ),
        ("ALL", None, ["time to live is disabled, expected on expires_at"]),
    ],
    ids=["keys-only-index", "other-ttl-attribute", "both", "ttl-off"],
)
def test_the_check_fails_on_an_index_projection_or_time_to_live_unlike_the_definition(
    settings, scratch_tables, projection, ttl_attribute, problems
):
    # A users table whose email index holds keys alone cannot find an account by email;
    # counters and revoked tokens on another TTL attribute never expire.
    name = users_like_table(projection=projection, ttl_attribute=ttl_attribute)
    scratch_tables.append(name)
    settings.DYNAMODB_USERS_TABLE = name

    lines, error = failing_check()

    assert lines[name] == f"{name}: ACTIVE, DIFFERS ({'; '.join(problems)})"
    assert error.startswith("1 table(s)")


def test_create_tables_turns_a_missing_time_to_live_on_but_reports_another(
    settings, scratch_tables
):
    without = users_like_table(projection="ALL", ttl_attribute=None)
    scratch_tables.append(without)
    settings.DYNAMODB_USERS_TABLE = without
    assert run()[without] == f"{without}: exists, ACTIVE"
    ttl = get_client().describe_time_to_live(TableName=without)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")

    other = users_like_table(projection="ALL", ttl_attribute="ttl")
    scratch_tables.append(other)
    settings.DYNAMODB_USERS_TABLE = other
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("create_tables", stdout=out)
    assert lines_by_table(out.getvalue())[other] == (
        f"{other}: exists, DIFFERS (time to live is on ttl, expected expires_at)"
    )
