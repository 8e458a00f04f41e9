"""Read back the email DermaLens sent, from moto's SES in server mode.

    messages = mailbox.to("ana@example.com")     # every message SES accepted for her
    token = messages[-1].token                    # the token of the link in its text

The app sends through django-ses to the moto server exactly as it sends to Amazon SES;
what SES accepted is read over HTTP from moto's model dump (``/moto-api/data.json``)
and parsed as the recipient's mail client would parse it. First this waits for the
process's sender thread to hand over every message queued so far.
"""

import email
import email.policy
import functools
import json
import re
import urllib.request
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from urllib.parse import unquote

from accounts.mail import wait_for_account_email

TOKEN_IN_LINK = re.compile(r"[?&]token=([^\s&]+)")
# Generous: on a machine busy with parallel test runs a send to the local SES server
# (botocore's timeouts and retries) can take long; a real failure still ends the wait.
SEND_WAIT_SECONDS = 120


@dataclass(frozen=True)
class SentEmail:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    content_types: tuple[str, ...]

    @property
    def link(self) -> str:
        [link] = re.findall(r"https?://\S+", self.text)
        return link

    @property
    def token(self) -> str:
        match = TOKEN_IN_LINK.search(self.link)
        assert match, self.text
        return unquote(match.group(1))


# Each test process keeps one SES server for the whole run, and what it accepted only
# grows: each message is parsed once (about 3 ms), not again on every read of the mailbox
# (every message the process had seen, hundreds late in a run, for every read).
@functools.cache
def parse(raw: str) -> SentEmail:
    message = email.message_from_string(raw, policy=email.policy.default)
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None, "every message has a plain-text part"
    return SentEmail(
        sender=parseaddr(str(message["From"]))[1],
        recipients=tuple(address for _, address in getaddresses([str(message["To"])])),
        subject=str(message["Subject"]),
        text=plain.get_content(),
        content_types=tuple(part.get_content_type() for part in message.walk()),
    )


class SesMailbox:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def all(self) -> list[SentEmail]:
        wait_for_account_email(timeout=SEND_WAIT_SECONDS)
        url = f"{self.endpoint}/moto-api/data.json"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
            models = json.load(response)
        return [parse(sent["raw_data"]) for sent in models.get("ses", {}).get("RawMessage", [])]

    def to(self, address: str) -> list[SentEmail]:
        return [message for message in self.all() if address in message.recipients]

    def last(self, address: str, *, subject: str) -> SentEmail:
        matching = [m for m in self.to(address) if subject.lower() in m.subject.lower()]
        assert matching, f"no message to {address} about {subject!r}: {self.to(address)}"
        return matching[-1]
