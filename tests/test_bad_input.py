"""Bad input of every kind gets a 4xx in the one error shape, never a 500."""

import base64
import datetime as dt
import gzip
import json
import zlib
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ('{"email": "a@example.com", "password": ', "application/json"),
        ("not json at all", "application/json"),
        ("[1, 2, 3", "application/json"),
        ('{"email": "\udc00"}', "application/json"),
    ],
)
def test_malformed_json_is_a_400(raw, content_type):
    response = APIClient().generic(
        "POST", LOGIN, raw.encode("utf-8", "surrogatepass"), content_type
    )
    assert assert_error_shape(response, 400)["code"] == "malformed_request"


NESTED_BODIES = {
    "arrays": "[" * 60_000,
    "objects": '{"a":' * 12_000,
    "mixed": '{"email": ' + '[{"a": ' * 5_000,
    "just-past-the-depth-limit": "[" * 1_025 + "]" * 1_025,
}


@pytest.mark.parametrize("raw", NESTED_BODIES.values(), ids=NESTED_BODIES.keys())
def test_json_nested_too_deep_is_a_400_within_the_size_limit(raw):
    assert len(raw) < settings.MAX_JSON_BODY_BYTES
    response = APIClient().generic("POST", LOGIN, raw, "application/json")
    assert assert_error_shape(response, 400)["code"] == "malformed_request"


# JSON escapes that are not Unicode text: a high surrogate alone, a low one alone, a
# pair in the wrong order. Nothing can answer, log or store them; a field that repeats
# its input in its error message (a choice) could not even say why.
LONE_SURROGATES = ["\\ud83d", "\\ude00", "\\ude00\\ud83d"]


@pytest.mark.parametrize("escape", LONE_SURROGATES)
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", LOGIN, '{{"email": "a{}@example.com", "password": "pw-ok-123456"}}'),
        ("PATCH", ME, '{{"skin_type": "{}"}}'),
        ("PATCH", ME, '{{"allergies": ["nickel", "{}"]}}'),
        ("POST", "/api/v1/chat/sessions", '{{"title": "{}"}}'),
    ],
    ids=["login-email", "skin-type", "allergy", "chat-title"],
)
def test_a_lone_surrogate_escape_is_a_400_and_changes_nothing(
    auth_client, method, path, template, escape
):
    before = auth_client.get(ME).json()
    response = auth_client.generic(method, path, template.format(escape), "application/json")
    assert assert_error_shape(response, 400)["code"] == "malformed_request"
    assert auth_client.get(ME).json() == before
    assert auth_client.get("/api/v1/chat/sessions").json()["items"] == []


def test_an_emoji_written_as_a_surrogate_pair_escape_is_stored_as_the_emoji(auth_client):
    response = auth_client.generic(
        "PATCH", ME, '{"full_name": "Ana \\ud83d\\ude00"}', "application/json"
    )
    assert response.status_code == 200, response.content
    assert auth_client.get(ME).json()["full_name"] == "Ana \N{GRINNING FACE}"


def test_a_form_encoded_body_is_415():
    response = APIClient().post(LOGIN, "email=a&password=b", content_type="text/plain")
    assert assert_error_shape(response, 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("body", "bad_fields"),
    [
        ({}, {"email", "password", "full_name"}),
        ({"email": "a@example.com"}, {"password", "full_name"}),
        ({"email": 42, "password": ["x"], "full_name": {"a": 1}}, {"email", "password"}),
        ({"email": "not-an-email", "password": "long-enough-pass", "full_name": "A"}, {"email"}),
        (
            {"email": "a" * 250 + "@example.com", "password": "pw-ok-123456", "full_name": "A"},
            {"email"},
        ),
        ({"email": "a@example.com", "password": "p" * 129, "full_name": "A"}, {"password"}),
        (
            {"email": "a@example.com", "password": "pw-ok-123456", "full_name": "x" * 101},
            {"full_name"},
        ),
        (
            {
                "email": "a@example.com",
                "password": "pw-ok-123456",
                "full_name": "A",
                "is_staff": True,
            },
            {"is_staff"},
        ),
        ([1, 2, 3], {"non_field_errors"}),
        ("just a string", {"non_field_errors"}),
    ],
)
def test_missing_wrongly_typed_and_over_long_fields_are_400_with_field_details(body, bad_fields):
    response = APIClient().post(REGISTER, body, format="json")
    error = assert_error_shape(response, 400)
    assert error["code"] == "invalid"
    assert bad_fields <= set(error["details"])


@pytest.mark.parametrize(
    "value", [42, 123456789012, 4.5, True], ids=["int", "long", "float", "bool"]
)
@pytest.mark.parametrize("field", ["email", "password", "full_name"])
def test_a_number_for_a_text_field_is_400_not_its_digits(unique_email, field, value):
    body = {"email": unique_email(), "password": "pw-ok-123456", "full_name": "A", field: value}
    response = APIClient().post(REGISTER, body, format="json")
    error = assert_error_shape(response, 400)
    assert error["details"][field] == ["Not a valid string."]


@pytest.mark.parametrize(
    "change",
    [{"full_name": 7}, {"allergies": ["nickel", 3]}, {"allergies": [["nickel"]]}],
    ids=["name", "allergy", "nested-list"],
)
def test_a_profile_change_with_a_non_text_value_is_400_and_changes_nothing(auth_client, change):
    before = auth_client.get(ME).json()
    response = auth_client.patch(ME, {**change, "skin_type": "dry"}, format="json")
    error = assert_error_shape(response, 400)
    assert set(error["details"]) == set(change)
    assert auth_client.get(ME).json() == before


CONTROLS = {
    "escape-sequence": "Ana \x1b[2J\x1b[31mAdmin",
    "bell": "Ana\x07",
    "right-to-left-override": "Ana \u202egnp.exe",
    "isolate": "Ana \u2067x",
    "c1-control": "Ana \x9b31m",
}


@pytest.mark.parametrize("text", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", ME, lambda text: {"full_name": text}),
        ("PATCH", ME, lambda text: {"allergies": ["nickel", text]}),
        ("POST", "/api/v1/chat/sessions", lambda text: {"title": text}),
    ],
    ids=["name", "allergy", "chat-title"],
)
def test_control_characters_in_text_are_a_400_and_change_nothing(
    auth_client, method, path, body, text
):
    before = auth_client.get(ME).json()
    response = auth_client.generic(method, path, json.dumps(body(text)), "application/json")
    error = assert_error_shape(response, 400)
    assert error["code"] == "invalid"
    (field,) = error["details"]
    assert error["details"][field] == ["Control characters are not allowed."]
    assert auth_client.get(ME).json() == before
    assert auth_client.get("/api/v1/chat/sessions").json()["items"] == []


@pytest.mark.parametrize(
    "name",
    [
        "Ana\n\nYour account is locked: sign in at https://example.net",
        "Ana\r\nBcc: someone@example.net",
        "Ana\tLopez",
        "Ana\u2028Lopez",
    ],
    ids=["newlines", "crlf", "tab", "line-separator"],
)
def test_a_name_is_one_line(auth_client, unique_email, name):
    before = auth_client.get(ME).json()
    changed = auth_client.patch(ME, {"full_name": name}, format="json")
    error = assert_error_shape(changed, 400)
    assert error["details"] == {"full_name": ["A name is one line: no line breaks or tabs."]}
    assert auth_client.get(ME).json() == before

    body = {"email": unique_email(), "password": "a-good-long-passphrase", "full_name": name}
    registered = APIClient().post("/api/v1/auth/register", body, format="json")
    assert set(assert_error_shape(registered, 400)["details"]) == {"full_name"}


def test_line_breaks_tabs_and_right_to_left_text_are_kept(auth_client):
    session = auth_client.post("/api/v1/chat/sessions", {}, format="json").json()
    hebrew, arabic = "\u05e9\u05dc\u05d5\u05dd", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629"
    content = f"First line\n\tindented\r\n{hebrew} and {arabic}"
    sent = auth_client.post(
        f"/api/v1/chat/sessions/{session['session_id']}/messages",
        {"content": content},
        format="json",
    )
    assert sent.status_code == 201, sent.content
    assert sent.json()["message"]["content"] == content


def test_a_ten_megabyte_body_is_refused_with_413_before_it_is_parsed():
    payload = json.dumps({"email": "a@example.com", "password": "x" * (10 * 1024 * 1024)})
    response = APIClient().generic("POST", LOGIN, payload, "application/json")
    error = assert_error_shape(response, 413)
    assert error["code"] == "request_too_large"
    assert error["details"]["max_bytes"] == settings.MAX_JSON_BODY_BYTES
    # A refusal carries the headers every other answer does.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_an_unknown_path_is_a_json_404():
    assert assert_error_shape(APIClient().get("/api/v1/nothing-here"), 404)["code"] == "not_found"


@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "head", "options"])
@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api/v1/scans/", "/api/v2/scans", "/api/"]
)
def test_an_unknown_api_path_is_a_json_404_also_with_debug_on(settings, path, method):
    # make run serves with DEBUG on, where Django answers an unmatched path with its HTML
    # debug page; a POST must not meet the CSRF check of Django's own views either.
    settings.DEBUG = True
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 404
    if method != "head":
        assert assert_error_shape(response, 404)["code"] == "not_found"


def test_a_wrong_method_is_405():
    response = APIClient().get(LOGIN)
    assert assert_error_shape(response, 405)["code"] == "method_not_allowed"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/schema", "/api/v1/docs", "/api/v1/redoc"])
def test_a_wrong_method_on_the_documentation_is_a_json_405(path, method):
    # These answer YAML or HTML when they succeed; an error is JSON like any other.
    response = getattr(APIClient(), method)(path)
    assert assert_error_shape(response, 405)["code"] == "method_not_allowed"


def test_a_schema_format_that_does_not_exist_is_a_json_404():
    response = APIClient().get("/api/v1/schema?format=xml")
    assert assert_error_shape(response, 404)["code"] == "not_found"


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(user_id: str) -> dict[str, str]:
    """Tokens a client might send: each is wrong in one way."""
    valid = AccessToken()
    valid["sub"] = user_id
    valid["ver"] = 0
    expired = AccessToken()
    expired["sub"] = user_id
    expired["ver"] = 0
    expired.set_exp(lifetime=timedelta(seconds=-60))
    header, payload, signature = str(valid).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return {
        "bogus": "not-a-jwt",
        "garbage_segments": "aaa.bbb.ccc",
        "expired": str(expired),
        "tampered_payload": f"{header}.{b64({**claims, 'sub': 'someone-else'})}.{signature}",
        "tampered_signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "alg_none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "other_key": jwt.encode(claims, "another-secret-key-of-sufficient-length!!", "HS256"),
        "no_subject": jwt.encode(
            {k: v for k, v in claims.items() if k != "sub"},
            settings.SIMPLE_JWT["SIGNING_KEY"],
            "HS256",
        ),
        "unknown_user": jwt.encode(
            {**claims, "sub": "01UNKNOWNUSER0000000000000"},
            settings.SIMPLE_JWT["SIGNING_KEY"],
            "HS256",
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "bogus",
        "garbage_segments",
        "expired",
        "tampered_payload",
        "tampered_signature",
        "alg_none",
        "other_key",
        "no_subject",
        "unknown_user",
    ],
)
def test_a_bad_bearer_token_is_401_in_the_error_shape(register, kind):
    session = register()
    token = forged_tokens(session["user"]["user_id"])[kind]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    error = assert_error_shape(client.get(ME), 401)
    # A token this service did not sign as it is, or one of no account (README's codes).
    assert error["code"] == ("user_inactive" if kind == "unknown_user" else "token_not_valid")


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "Token abc"])
def test_a_malformed_authorization_header_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error_shape(client.get(ME), 401)


def test_a_stale_token_on_login_does_not_block_logging_in(register):
    session = register()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.bogus")
    response = client.post(
        LOGIN, {"email": session["user"]["email"], "password": session["password"]}, format="json"
    )
    assert response.status_code == 200


def test_every_response_carries_a_request_id():
    response = APIClient().get("/api/v1/health", HTTP_X_REQUEST_ID="trace-1234-abcd")
    assert response["X-Request-ID"] == "trace-1234-abcd"
    generated = APIClient().get("/api/v1/health", HTTP_X_REQUEST_ID="bad id with spaces")
    assert generated["X-Request-ID"] != "bad id with spaces"
    assert len(generated["X-Request-ID"]) == 32


# --- yes-or-no and whole-number fields take JSON's own kinds --------------------------


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "off", "", "null", [True]])
def test_a_yes_or_no_field_takes_only_true_false_or_null(auth_client, value):
    """Whether someone is pregnant or breastfeeding rules retinoids out of their plans:
    DRF's own field would read "yes", 1 or "off" as an answer."""
    refused = auth_client.patch(ME, {"pregnant_or_breastfeeding": value}, format="json")

    error = assert_error_shape(refused, 400)
    assert error["code"] == "invalid"
    assert error["details"]["pregnant_or_breastfeeding"] == ["Must be true or false."]
    for answer in (True, False, None):
        changed = auth_client.patch(ME, {"pregnant_or_breastfeeding": answer}, format="json")
        assert changed.status_code == 200, changed.content
        assert changed.json()["pregnant_or_breastfeeding"] is answer


def a_plan(client) -> str:
    created = client.post("/api/v1/plans", {}, format="json")
    assert created.status_code == 201, created.content
    return f"/api/v1/plans/{created.json()['plan_id']}"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("am_done", "yes", "Must be true or false."),
        ("pm_done", 1, "Must be true or false."),
        ("irritation", "3", "A JSON integer is required."),
        ("irritation", 3.0, "A JSON integer is required."),
        ("irritation", True, "A JSON integer is required."),
    ],
)
def test_a_check_in_takes_json_s_own_kinds(auth_client, field, value, message):
    plan = a_plan(auth_client)
    day = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "am_done": True,
        "pm_done": False,
        "irritation": 1,
    }

    refused = auth_client.post(f"{plan}/check-ins", {**day, field: value}, format="json")

    assert assert_error_shape(refused, 400)["details"] == {field: [message]}
    assert auth_client.post(f"{plan}/check-ins", day, format="json").status_code == 201


@pytest.mark.parametrize("version", ["1", 1.0])
def test_a_plan_s_version_is_a_json_integer(auth_client, version):
    plan = a_plan(auth_client)

    refused = auth_client.patch(plan, {"status": "paused", "version": version}, format="json")

    assert assert_error_shape(refused, 400)["details"] == {
        "version": ["A JSON integer is required."]
    }
    assert auth_client.patch(plan, {"status": "paused", "version": 1}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/scans", "/api/v1/scans/progress"])
@pytest.mark.parametrize("limit", ["\u0663", "\uff13"])  # an Arabic-Indic 3, a fullwidth 3
def test_a_query_string_s_number_in_other_digits_is_a_400(auth_client, path, limit):
    refused = auth_client.get(path, {"limit": limit})
    assert assert_error_shape(refused, 400)["details"] == {
        "limit": ["A valid integer is required."]
    }
    assert auth_client.get(path, {"limit": "3"}).status_code == 200


def test_a_query_string_s_numbers_are_read_from_its_text(auth_client):
    assert auth_client.get("/api/v1/scans?limit=3").status_code == 200


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(b'{"full_name": "Zipped"}')),
        ("deflate", zlib.compress(b'{"full_name": "Zipped"}')),
        # A body that names a coding it does not have is not taken as it came.
        ("gzip", b'{"full_name": "Zipped"}'),
        ("br", b'{"full_name": "Zipped"}'),
        ("identity, gzip", gzip.compress(b'{"full_name": "Zipped"}')),
    ],
    ids=["gzip", "deflate", "gzip-named-only", "br", "identity-then-gzip"],
)
def test_a_body_in_a_content_coding_is_415_naming_identity_and_changes_nothing(
    auth_client, coding, body
):
    response = auth_client.generic(
        "PATCH", ME, body, content_type="application/json", HTTP_CONTENT_ENCODING=coding
    )
    error = assert_error_shape(response, 415)
    assert error["code"] == "unsupported_content_encoding"
    assert response["Accept-Encoding"] == "identity"
    assert auth_client.get(ME).json()["full_name"] != "Zipped"


def test_a_body_said_to_be_in_identity_coding_is_read(auth_client):
    response = auth_client.generic(
        "PATCH",
        ME,
        b'{"full_name": "Plain"}',
        content_type="application/json",
        HTTP_CONTENT_ENCODING="identity",
    )
    assert response.status_code == 200, response.content
    assert response.json()["full_name"] == "Plain"


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/scans?limit=1&limit=100",
        "/api/v1/scans?from=2026-01-01&from=2020-01-01",
        "/api/v1/scans/progress?area=face&area=body",
        "/api/v1/plans?cursor=&cursor=",
    ],
)
def test_a_query_parameter_given_twice_is_a_400_not_its_last_value(auth_client, query):
    error = assert_error_shape(auth_client.get(query), 400)
    name = query.split("?")[1].split("=")[0]
    assert error["details"] == {name: ["Give this field once."]}


@pytest.mark.parametrize(
    "raw",
    [
        '{"full_name": "First", "full_name": "Second"}',
        '{"skin_type": "dry", "allergies": ["nickel"], "allergies": []}',
        '{"full_name": "First", "full_name": "First"}',
    ],
    ids=["two-values", "a-list-emptied", "the-same-value"],
)
def test_a_json_object_that_names_a_field_twice_is_a_400_and_changes_nothing(auth_client, raw):
    before = auth_client.get(ME).json()
    response = auth_client.generic("PATCH", ME, raw, content_type="application/json")
    error = assert_error_shape(response, 400)
    assert error["code"] == "malformed_request"
    assert "given twice" in error["message"]
    after = auth_client.get(ME).json()
    assert (after["full_name"], after["allergies"]) == (before["full_name"], before["allergies"])


def test_a_name_repeated_inside_a_text_value_is_only_text(auth_client):
    response = auth_client.generic(
        "PATCH", ME, '{"full_name": "Nested {\\"a\\": 1, \\"a\\": 2} text"}', "application/json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("debug", [True, False], ids=["debug-on", "debug-off"])
@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/users/me", "/api/v1/nothing-here"])
def test_a_host_not_allowed_is_a_json_400_also_with_debug_on(settings, debug, path):
    # With DEBUG on (make run), Django answered with its HTML debug page and the settings.
    settings.DEBUG = debug
    response = APIClient().get(path, HTTP_HOST="evil.example")
    assert assert_error_shape(response, 400)["code"] == "bad_request"
    assert b"settings" not in response.content.lower()
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
