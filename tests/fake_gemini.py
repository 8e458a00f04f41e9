"""A local stand-in for the Gemini REST API, so tests drive the real google-genai client.

    server = FakeGemini().start()
    server.enqueue(FakeResponse.status(429), FakeResponse.json_answer(valid_analysis_answer()))
    ...  # point GEMINI_BASE_URL at server.base_url, call the provider, read server.requests
    server.stop()

It answers ``POST /{version}/models/{model}:generateContent`` and
``:streamGenerateContent`` on 127.0.0.1, records every request it receives, and plays
the scripted responses in order; with nothing scripted it
asks its ``responder``, if it was given one, and otherwise answers a valid analysis.
Like the real service, the ``v1`` version refuses ``systemInstruction`` and
``responseSchema`` with 400 INVALID_ARGUMENT "Unknown name" (google-genai 3.x calls
``v1`` unless told otherwise); any other version segment accepts them. A responder chooses the
answer from the request, which suits many concurrent callers (the load benchmark):

    server = FakeGemini(responder=lambda request: FakeResponse.text_answer("Hello.")).start()

A stream (``?alt=sse``) gets a 200 answer as server-sent events, as the real API
sends it: its text in pieces of ``STREAM_PIECE_CHARS``, each a generateContent
answer of its own, the last with the finish reason and the token counts;
``chunk_delay_seconds`` spaces them, ``cut_after_chunks`` hangs up midway, and
``stall_after_chunks`` falls silent midway for ``stall_seconds``. Any other
answer (an error status, a blocked prompt) comes as it would to ``generateContent``.

``typical_answer`` is such a responder: what a well-behaved Gemini says to each of the
app's calls. Run as a program, the server answers every call that way after a delay, as
the real one takes seconds (bench/concurrency.py starts it so, in a process of its own):

    python -m tests.fake_gemini --delay-seconds 5     # prints its base URL, then serves
"""

import argparse
import dataclasses
import json
import re
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GENERATE_CONTENT_PATH = re.compile(
    r"^/(?P<version>[^/]+)/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)
# How much text each event of a streamed answer carries.
STREAM_PIECE_CHARS = 40
MODEL_VERSION = "gemini-3.5-flash-fake"
# Fields of a generateContent body that the real "v1" API does not know (v1beta does).
V1_UNKNOWN_FIELDS = {
    "systemInstruction": ("systemInstruction",),
    "responseSchema": ("generationConfig", "responseSchema"),
    "responseJsonSchema": ("generationConfig", "responseJsonSchema"),
}
# A handler never waits on a silent client longer than this.
SOCKET_TIMEOUT_SECONDS = 10
# How soon stop() takes effect.
POLL_INTERVAL_SECONDS = 0.05
# Connections waiting to be accepted: a load benchmark opens hundreds at once, and the
# standard library's 5 would make the kernel drop the rest's SYNs (a 1 s retransmit).
LISTEN_BACKLOG = 1024
CHAT_REPLY = (
    "Niacinamide and a retinoid usually sit well together: keep the retinoid for the "
    "evening and add niacinamide in the morning. This is general skin-care guidance, not a "
    "diagnosis."
)
# The delimiters of the plan-drafting request's data (ai.plan_prompts).
PLAN_CONTEXT = re.compile(r"<plan_context>\n(?P<data>.*)\n</plan_context>", re.DOTALL)


def valid_analysis_answer() -> dict[str, Any]:
    """An answer that fits the response schema and passes ``SkinAnalysis.from_dict``."""
    return {
        "overall_score": 72,
        "skin_type": "combination",
        "metrics": {
            "acne": {"score": 78, "confidence": 0.8},
            "redness": {"score": 64, "confidence": 0.7},
            "oiliness": {"score": 55, "confidence": 0.75},
            "hydration": {"score": 68, "confidence": 0.6},
            "pigmentation": {"score": 81, "confidence": 0.7},
            "wrinkles": {"score": 88, "confidence": 0.65},
            "pores": {"score": 60, "confidence": 0.7},
            "texture": {"score": 70, "confidence": 0.7},
            "radiance": {"score": 66, "confidence": 0.5},
            "firmness": {"score": 85, "confidence": 0.5},
            "dark_circles": {"score": None, "confidence": 0.1},
            "eye_bags": {"score": 79, "confidence": 0.4},
        },
        "regions": {
            "forehead": {"oiliness": 48, "acne": 74},
            "nose": {"pores": 52, "oiliness": 45},
            "left_cheek": {"redness": 62},
            "right_cheek": {"redness": 66},
            "chin": {"acne": 70},
        },
        "concerns": [
            {"name": "Enlarged pores", "severity": "mild", "region": "nose"},
            {"name": "Redness", "severity": "moderate", "region": "left_cheek"},
        ],
        "image_quality": {"acceptable": True, "reasons": []},
        "summary": (
            "Combination skin with some shine on the forehead and nose and mild redness on "
            "the cheeks. A gentle cleanser, a light moisturiser and daily sunscreen suit it. "
            "This is general skin-care guidance, not a diagnosis."
        ),
        "red_flags": [],
    }


@dataclass(frozen=True)
class FakeResponse:
    """One scripted answer: an HTTP status, a JSON body, and how long to wait first."""

    status_code: int
    body: dict[str, Any]
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # Sent as it is instead of ``body`` (a body that is not JSON).
    raw_body: str | None = None
    # To a stream: the wait between its events, and hanging up after this many; or
    # falling silent for ``stall_seconds`` after ``stall_after_chunks`` of them.
    chunk_delay_seconds: float = 0.0
    cut_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    stall_seconds: float = 0.0
    # A stream's events as they are, instead of ``body``'s text in pieces.
    stream_events: tuple[dict[str, Any], ...] = ()

    def events(self) -> list[dict[str, Any]]:
        """The answer as a stream's events: a 200 answer's text in pieces (a blocked or
        textless answer whole)."""
        if self.stream_events:
            return list(self.stream_events)
        try:
            candidate = self.body["candidates"][0]
            text = candidate["content"]["parts"][0]["text"]
        except (KeyError, IndexError, TypeError):  # blocked, or not an answer at all
            return [self.body]
        if self.status_code != 200 or not text:
            return [self.body]
        # Cut anywhere, mid-word too, as a model's tokens may be.
        pieces = [text[i : i + STREAM_PIECE_CHARS] for i in range(0, len(text), STREAM_PIECE_CHARS)]
        events = []
        sent = 0
        for number, piece in enumerate(pieces, start=1):
            part = {"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}
            event: dict[str, Any] = {"candidates": [part], "modelVersion": MODEL_VERSION}
            # As Gemini does: every event counts the answer so far; the last, the whole.
            sent += len(piece)
            event["usageMetadata"] = _usage(candidates_tokens=sent // 4)
            if number == len(pieces):
                part["finishReason"] = candidate.get("finishReason", "STOP")
                event["usageMetadata"] = self.body.get("usageMetadata", _usage())
            events.append(event)
        return events

    @classmethod
    def text_answer(cls, text: str, *, finish_reason: str = "STOP") -> "FakeResponse":
        """A 200 whose single candidate's text is ``text`` (what structured output fills)."""
        return cls(
            200,
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "finishReason": finish_reason,
                        "index": 0,
                    }
                ],
                "usageMetadata": _usage(candidates_tokens=len(text) // 4),
                "modelVersion": MODEL_VERSION,
                "responseId": "fake-response",
            },
        )

    @classmethod
    def json_answer(cls, answer: dict[str, Any]) -> "FakeResponse":
        return cls.text_answer(json.dumps(answer))

    @classmethod
    def malformed(cls) -> "FakeResponse":
        """A candidate whose text is not JSON (cut off mid-object)."""
        return cls.text_answer('{"overall_score": 72, "metrics": {"acne": {"score": 7')

    @classmethod
    def safety_block(
        cls,
        *,
        in_candidate: bool = False,
        finish_reason: str = "SAFETY",
        block_reason: str = "SAFETY",
    ) -> "FakeResponse":
        """The prompt blocked (no candidates; ``block_reason``: SAFETY, or e.g. OTHER), or
        with ``in_candidate`` the answer withheld (``finish_reason``: SAFETY, or e.g.
        RECITATION)."""
        rating = {
            "category": "HARM_CATEGORY_SEXUALLY_EXPLICIT",
            "probability": "HIGH",
            "blocked": True,
        }
        if in_candidate:
            body = {
                "candidates": [
                    {"finishReason": finish_reason, "index": 0, "safetyRatings": [rating]}
                ],
            }
        else:
            ratings = [rating] if block_reason == "SAFETY" else []
            body = {"promptFeedback": {"blockReason": block_reason, "safetyRatings": ratings}}
        return cls(200, {**body, "usageMetadata": _usage(), "modelVersion": MODEL_VERSION})

    @classmethod
    def blocked_midway(cls, text: str, *, finish_reason: str = "SAFETY") -> "FakeResponse":
        """To a stream: ``text`` in pieces, then an event that ends it withheld
        (``finish_reason``: SAFETY, or e.g. RECITATION)."""
        pieces = cls.text_answer(text).events()
        for event in pieces:
            event["candidates"][0].pop("finishReason", None)
        blocked = {
            "candidates": [{"finishReason": finish_reason, "index": 0}],
            "usageMetadata": _usage(),
        }
        return cls(200, {}, stream_events=(*pieces, blocked))

    @classmethod
    def failed_midway(cls, text: str, *, status_code: int = 503) -> "FakeResponse":
        """To a stream: the first piece of ``text``, then an error event in Google's shape
        (what Gemini sends when it fails after it began: the stream's status is 200)."""
        first = cls.text_answer(text).events()[0]
        first["candidates"][0].pop("finishReason", None)
        return cls(200, {}, stream_events=(first, cls.status(status_code).body))

    @classmethod
    def status(
        cls,
        status_code: int,
        *,
        retry_after_seconds: int | None = None,
        message: str | None = None,
    ) -> "FakeResponse":
        """An error in Google's shape: ``{"error": {"code", "message", "status"}}``."""
        status, usual_message = ERRORS.get(status_code, ("UNKNOWN", "Error."))
        message = message or usual_message
        headers = {} if retry_after_seconds is None else {"Retry-After": str(retry_after_seconds)}
        return cls(
            status_code,
            {"error": {"code": status_code, "message": message, "status": status}},
            headers=headers,
        )

    @classmethod
    def not_json(cls, status_code: int = 200) -> "FakeResponse":
        """A body that is not JSON at all: a proxy's HTML error page, a cut-off answer."""
        return cls(status_code, {}, raw_body="<html><body>Bad gateway</body></html>")

    @classmethod
    def shapeless(cls) -> "FakeResponse":
        """A 200 whose JSON is not a generateContent answer."""
        return cls(200, {"candidates": "none today", "usageMetadata": [1, 2]})

    @classmethod
    def rate_limited(cls, *, retry_delay: str) -> "FakeResponse":
        """A 429 whose details carry ``google.rpc.RetryInfo`` (``retry_delay``: "17s")."""
        response = cls.status(429)
        error = {
            **response.body["error"],
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaMetric": "generate_content_requests"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
            ],
        }
        return cls(429, {"error": error})

    @classmethod
    def unknown_field(cls, field_name: str) -> "FakeResponse":
        """The real ``v1`` API's answer to a field it does not know."""
        description = (
            f'Invalid JSON payload received. Unknown name "{field_name}": Cannot find field.'
        )
        return cls(
            400,
            {
                "error": {
                    "code": 400,
                    "message": description,
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"description": description}],
                        }
                    ],
                }
            },
        )

    @classmethod
    def timeout(cls, seconds: float) -> "FakeResponse":
        """A valid answer, but only after ``seconds`` (longer than the client's timeout)."""
        answer = cls.json_answer(valid_analysis_answer())
        return cls(answer.status_code, answer.body, delay_seconds=seconds)


ERRORS = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    403: ("PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
    404: ("NOT_FOUND", "Not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred. Please retry."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}


PROMPT_TOKENS = 1290
THOUGHTS_TOKENS = 37


def _usage(*, candidates_tokens: int = 0) -> dict[str, int]:
    return {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": candidates_tokens,
        "thoughtsTokenCount": THOUGHTS_TOKENS,
        "totalTokenCount": PROMPT_TOKENS + candidates_tokens + THOUGHTS_TOKENS,
    }


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # the parsed JSON, or the raw text when it was not JSON

    @property
    def model(self) -> str | None:
        match = GENERATE_CONTENT_PATH.match(self.path)
        return match["model"] if match else None

    @property
    def version(self) -> str | None:
        match = GENERATE_CONTENT_PATH.match(self.path)
        return match["version"] if match else None

    @property
    def streamed(self) -> bool:
        match = GENERATE_CONTENT_PATH.match(self.path)
        return bool(match) and match["method"] == "streamGenerateContent"

    def unknown_to_v1(self) -> str | None:
        """The first field the real ``v1`` API would refuse, if this is a v1 call."""
        if self.version != "v1" or not isinstance(self.body, dict):
            return None
        for name, path in V1_UNKNOWN_FIELDS.items():
            value: Any = self.body
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None:
                return name
        return None


def typical_answer(request: ReceivedRequest) -> FakeResponse:
    """What a well-behaved Gemini answers: an analysis for a photo, the rules' own plan
    back for a plan draft, a plain-text reply in a chat."""
    parts = [
        part
        for content in (request.body or {}).get("contents", [])
        for part in content.get("parts", [])
    ]
    if any("inlineData" in part for part in parts):
        return FakeResponse.json_answer(valid_analysis_answer())
    for part in parts:
        plan_context = PLAN_CONTEXT.search(part.get("text", ""))
        if plan_context:
            return FakeResponse.json_answer(json.loads(plan_context["data"])["base_plan"])
    return FakeResponse.text_answer(CHAT_REPLY)


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG


class FakeGemini:
    """The server: ``start()``, ``enqueue(...)``, ``requests``, ``reset()``, ``stop()``.

    ``responder``, if given, answers every request that finds the script empty (``reset``
    keeps it); it is called outside the server's lock, so it may read ``requests``.
    """

    def __init__(
        self,
        responder: Callable[[ReceivedRequest], FakeResponse] | None = None,
        *,
        port: int = 0,
        keep_requests: bool = True,
    ) -> None:
        self._responder = responder
        self._port = port
        # A long-running server (the benchmark's) would hold every request it ever got.
        self._keep_requests = keep_requests
        self._lock = threading.Lock()
        self._queue: deque[FakeResponse] = deque()
        self._requests: list[ReceivedRequest] = []
        # Set on reset and stop, so a handler sleeping out a timeout ends at once.
        self._wake = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGemini is not running; call start() first.")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def start(self) -> "FakeGemini":
        self._server = _Server(("127.0.0.1", self._port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
            name="fake-gemini",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._wake.set()
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads, which the wake-up ended
        self._thread.join()
        self._server = self._thread = None

    def enqueue(self, *responses: FakeResponse) -> None:
        with self._lock:
            self._queue.extend(responses)

    def reset(self) -> None:
        """Forget the script and the recorded requests; end any pending slow answer."""
        self._wake.set()
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._wake = threading.Event()

    def __enter__(self) -> "FakeGemini":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _receive(self, request: ReceivedRequest) -> tuple[FakeResponse, threading.Event]:
        with self._lock:
            if self._keep_requests:
                self._requests.append(request)
            wake = self._wake
            if not GENERATE_CONTENT_PATH.match(request.path) or request.method != "POST":
                return FakeResponse.status(404), wake
            unknown = request.unknown_to_v1()
            if unknown is not None:
                return FakeResponse.unknown_field(unknown), wake
            if self._queue:
                return self._queue.popleft(), wake
        if self._responder is not None:
            return self._responder(request), wake
        return FakeResponse.json_answer(valid_analysis_answer()), wake


def _handler_for(server: FakeGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = SOCKET_TIMEOUT_SECONDS

        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", errors="replace")
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw
            response, wake = server._receive(
                ReceivedRequest(
                    method=self.command,
                    path=self.path.split("?", 1)[0],
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
            )
            if response.delay_seconds and wake.wait(response.delay_seconds):
                return  # reset or stopped while waiting: the client gave up long ago
            if self.path.split("?", 1)[0].endswith(":streamGenerateContent") and (
                response.status_code == 200 and response.raw_body is None
            ):
                self._stream(response, wake)
                return
            if response.raw_body is None:
                payload = json.dumps(response.body).encode()
            else:
                payload = response.raw_body.encode()
            try:
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up

        def _stream(self, response: FakeResponse, wake: threading.Event) -> None:
            """Server-sent events until the answer ends, chunked as HTTP/1.1 sends them,
            so that a stream cut short (``cut_after_chunks``) is one to the client."""
            self.protocol_version = "HTTP/1.1"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for number, event in enumerate(response.events()):
                    if number == response.cut_after_chunks:
                        return
                    if number == response.stall_after_chunks and wake.wait(response.stall_seconds):
                        return
                    if (
                        number
                        and response.chunk_delay_seconds
                        and wake.wait(response.chunk_delay_seconds)
                    ):
                        return
                    data = b"data: " + json.dumps(event).encode() + b"\r\n\r\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


def serve(argv: list[str] | None = None) -> None:
    """Serve ``typical_answer`` after ``--delay-seconds`` until interrupted."""
    parser = argparse.ArgumentParser(description="A fake Gemini REST API on 127.0.0.1.")
    parser.add_argument("--delay-seconds", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    arguments = parser.parse_args(argv)

    def answer(request: ReceivedRequest) -> FakeResponse:
        return dataclasses.replace(typical_answer(request), delay_seconds=arguments.delay_seconds)

    server = FakeGemini(responder=answer, port=arguments.port, keep_requests=False).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    serve(sys.argv[1:])
