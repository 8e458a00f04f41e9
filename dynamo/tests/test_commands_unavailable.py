"""Commands that work on an account's data say so in one line when DynamoDB does not
answer, rather than with a traceback."""

import io

import pytest
from django.core.management import CommandError, call_command

from conftest import STRONG_PASSWORD


@pytest.mark.parametrize(
    "arguments",
    [
        ("create_staff_user", "--email", "ops@example.com"),
        ("remove_staff", "--email", "ops@example.com"),
        ("erase_user", "--email", "someone@example.com", "--yes"),
        ("export_user", "--email", "someone@example.com"),
        ("seed_demo", "--email", "demo@example.com"),
    ],
    ids=lambda arguments: arguments[0],
)
def test_a_command_says_in_one_line_that_dynamodb_does_not_answer(
    unreachable_dynamodb, tmp_path, monkeypatch, arguments
):
    monkeypatch.chdir(tmp_path)  # where export_user would write
    # create_staff_user asks for a new account's password first.
    typed = {"stdin": io.StringIO(STRONG_PASSWORD + "\n")}
    options = typed if arguments[0] == "create_staff_user" else {}
    with pytest.raises(CommandError, match="DynamoDB is unavailable") as raised:
        call_command(*arguments, stdout=io.StringIO(), **options)
    assert "\n" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []
