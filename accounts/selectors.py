"""Reads of accounts."""

from dynamo.users import User, users_table


def get_user(*, user_id: str) -> User | None:
    return users_table().get(user_id)
