"""Email addresses as accounts are keyed by them: one mailbox, one account.

An address is compared and stored lowercased, with its domain as mail servers and
browsers read it (IDNA 2008 with the UTS #46 mapping, the ``idna`` package): the ASCII
form, mapped and checked, brought back to Unicode. So ``bob@Bücher.example``,
``bob@xn--bcher-kva.example``, ``bob@bü<soft hyphen>cher.example`` and
``bob@ex<zero-width space>ample.com`` (which mail reaches as ``bob@example.com``) and
``bob@example.com<ideographic full stop>`` (the root's dot) are one mailbox each with its
plain spelling, and cannot be a second account beside it.

Mail leaves for the ASCII form (``mail_address``): SES, like SMTP without SMTPUTF8, takes
a domain in Punycode only.

A new address (registration, a change of address) must also be one mail can reach, with
one spelling: a local part of ASCII characters, unquoted (``"bob"`` is bob's mailbox),
at most 64 of them (RFC 5321), and a domain name with a dot, not ``localhost`` nor an
address literal such as ``[192.0.2.1]``.
"""

import idna
from django.core.exceptions import ValidationError

LOCAL_PART_MAX_LENGTH = 64


def canonical_email(address: str) -> str:
    """``address`` as accounts are keyed by it. An address whose domain is not a domain
    name is only lowercased: no account can have it (``check_new_email``)."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    try:
        domain = idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        return address
    # A domain written whole, with the root's dot ("example.com." or, mapped from an
    # ideographic full stop, "example.com。"), is the same mailbox as without it.
    return f"{local}@{domain.removesuffix('.')}"


# Mail services that read the part before @ without its dots: each spelling is one
# inbox. Gmail's two domains are one service.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def inbox_of(address: str) -> str:
    """The inbox mail to ``address`` lands in, as the limits on mail count it: without a
    ``+tag`` (``bob+1@example.com`` is delivered to ``bob@example.com`` by Gmail,
    Outlook, iCloud, Fastmail, Proton and Postfix's and Exim's default), and without dots
    at Gmail. Accounts stay keyed by the whole address (``canonical_email``): a tag is
    a mailbox of its own to its owner, but a count per spelling would let anyone send
    one inbox as many messages as it has spellings. Other separators (``-``) are a
    server's choice and are not assumed."""
    address = canonical_email(address)
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.partition("+")[0] or local
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def mail_address(address: str) -> str:
    """``address`` with its domain in ASCII, as mail is sent to it (as it is, if its
    domain is not a domain name: an account stored before these checks)."""
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except (idna.IDNAError, UnicodeError):
        return address


def check_new_email(address: str) -> None:
    """Raise ValidationError unless mail can reach ``address`` (already a valid email
    address by Django's EmailValidator)."""
    local, _, domain = address.strip().rpartition("@")
    # Django's pattern for it is ASCII, but case-insensitive matching lets the dotless i,
    # the capital I with a dot and the Kelvin sign through as i and k: look-alikes of
    # other addresses, which SES (no SMTPUTF8) could not send to.
    if not local.isascii():
        raise ValidationError("The part before @ may hold ASCII characters only.")
    # A quoted local part and its backslash escapes ("bob", "b\\ob") name the mailbox of
    # bob (RFC 5322 3.2.4): each would be one more account and allowance for one mailbox.
    if '"' in local or "\\" in local:
        raise ValidationError("The part before @ may not be quoted nor hold a backslash.")
    if len(local) > LOCAL_PART_MAX_LENGTH:
        raise ValidationError(
            f"The part before @ may be at most {LOCAL_PART_MAX_LENGTH} characters long."
        )
    if domain.startswith("[") or "." not in domain:
        raise ValidationError("Use an address at a domain name, such as example.com.")
    try:
        idna.encode(domain, uts46=True)
    except (idna.IDNAError, UnicodeError) as err:
        raise ValidationError("The domain of this address is not a valid domain name.") from err
