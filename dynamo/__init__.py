"""The only door to DynamoDB: one shared client, table definitions and a manager per table.

    from dynamo.users import users_table
    user = users_table().get(user_id)

Managers return frozen dataclasses and raise ``dynamo.errors`` exceptions; nothing
outside this package imports boto3 for DynamoDB.
"""
