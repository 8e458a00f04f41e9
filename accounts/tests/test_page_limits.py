"""The account pages' forms are limited per address as the API's token endpoints are,
and a refusal says when to come back."""

import pytest
from django.test import Client

from accounts.pages import THROTTLED


@pytest.mark.parametrize("page", ["/account/reset-password", "/account/verify-email"])
def test_a_form_sent_past_the_limit_is_a_429_that_says_when_to_come_back(throttle_rates, page):
    throttle_rates(token="2/hour")
    client = Client()
    answers = [client.post(page, {"token": "not-a-token"}) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    refused = answers[2]
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert THROTTLED in refused.content.decode()
    # Opening the page is not counted.
    assert client.get(page, {"token": "not-a-token"}).status_code != 429
