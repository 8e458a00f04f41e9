"""The chat contract every AI provider meets, and the offline assistant's replies.

    context = ChatContext(skin_type="oily", analysis=AnalysisSummary.from_scan(...), plan=None)
    text = chat_provider().reply(context=context, history=turns, message="Is my skin dry?")

A provider is given what the person told us about their skin (never their name or
email), their latest analysis, their active plan and the session's recent turns, and
answers in plain text. ``ChatFailed`` says why no reply came; the chat service keeps the
person's message and answers 503. The offline assistant (``OfflineChat``) answers from
the person's data and general skin-care rules, says that it is offline, and sends any
red flag to a dermatologist or urgent care. No reply is a diagnosis or a prescription.
"""

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from ai.analysis import readable
from ai.providers import get_provider
from skincare.actives import (
    ACTIVES,
    CONCERN_ACTIVES,
    RETINOID,
    allergens,
    excluded_kinds,
    kind_of,
)
from skincare.concerns import METRIC_CONCERNS
from skincare.metrics import MEASURED, METRICS

ROLES = ("user", "assistant")
CHAT_FAILURE_REASONS = (
    "safety_block",  # the model refused the message for what it says, or blocked its answer
    "invalid_response",  # no usable text in the answer (or blocked without a reason given)
    "provider_unavailable",  # 5xx or connection errors after retries
    "provider_rejected",  # the provider refused the request (400, 401, 403, 404: not retried)
    "rate_limited",  # 429 after retries
    "timeout",  # no answer in time
)
# A reply longer than this is cut (at a word) before it is stored.
REPLY_MAX_LENGTH = 8000
STREAM_CHUNK_CHARS = 48
# What ends a reply cut at REPLY_MAX_LENGTH.
CUT_MARK = " ..."
HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+")
BULLET_MARK = re.compile(r"^(\s*)[*+]\s+")
BLANK_LINES = re.compile(r"\n{3,}")
SPACES_OR_WORD = re.compile(r"\s+|\S+")
# The end of a text after its last whitespace: a word that may still go on.
UNSETTLED_END = re.compile(r"\S*\Z")
LOWEST_METRICS_SHOWN = 2
TOPICS_SHOWN = 2
INGREDIENTS_SHOWN = 3
# A check-in's irritation (0-5) from which the chat advises easing off the actives.
IRRITATED_LEVEL = 3


class ChatFailed(Exception):
    """No reply: ``reason`` is one of CHAT_FAILURE_REASONS (the message names no user data)."""

    def __init__(self, reason: str, message: str = "", *, retry_after_seconds: int | None = None):
        if reason not in CHAT_FAILURE_REASONS:
            raise ValueError(f"unknown chat failure reason {reason!r}")
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason
        # When the provider said how soon to ask again (a 429's delay).
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class ChatTurn:
    role: str  # user | assistant
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"a chat turn's role is one of {ROLES}, not {self.role!r}")


@dataclass(frozen=True)
class AnalysisSummary:
    """The latest completed analysis, as a chat needs it (scores 0-100, higher healthier)."""

    scanned_at: str
    area: str
    overall_score: float | None
    skin_type: str | None
    scores: dict[str, float]  # judged metrics only
    concerns: tuple[str, ...]
    red_flags: tuple[str, ...]
    summary: str
    heuristic: bool
    notes: str | None = None  # the person's own note on the scan
    # The scored metrics measured from the photo's pixels; the others are a model's.
    measured: tuple[str, ...] = ()

    @classmethod
    def from_scan(
        cls, analysis: Mapping[str, Any], *, scanned_at: str, area: str, notes: str | None = None
    ) -> "AnalysisSummary":
        """From a stored ``SkinAnalysis`` dict (numbers may be Decimals)."""
        metrics = (readable(dict(analysis)) or {}).get("metrics") or {}
        scores = {
            name: float(metrics[name]["score"])
            for name in METRICS
            if isinstance(metrics.get(name), Mapping) and metrics[name].get("score") is not None
        }
        overall = analysis.get("overall_score")
        return cls(
            scanned_at=scanned_at,
            area=area,
            overall_score=float(overall) if overall is not None else None,
            skin_type=analysis.get("skin_type"),
            scores=scores,
            concerns=tuple(
                str(c.get("name")) for c in analysis.get("concerns") or [] if c.get("name")
            ),
            red_flags=tuple(str(flag) for flag in analysis.get("red_flags") or []),
            summary=str(analysis.get("summary") or ""),
            heuristic=bool(analysis.get("heuristic", False)),
            notes=notes,
            measured=tuple(name for name in scores if metrics[name].get("source") == MEASURED),
        )

    def lowest(self, count: int = LOWEST_METRICS_SHOWN) -> list[tuple[str, float]]:
        return sorted(self.scores.items(), key=lambda entry: entry[1])[:count]


@dataclass(frozen=True)
class PlanStep:
    category: str
    name: str
    actives: tuple[str, ...] = ()
    frequency: str | None = None
    start_week: int = 1  # new actives come in one at a time: the week this step begins

    def describe(self) -> str:
        frequency = f" ({self.frequency.replace('_', ' ')})" if self.frequency else ""
        return f"{self.name}{frequency}"


@dataclass(frozen=True)
class CheckInsSummary:
    """How the plan has gone lately, from the person's daily check-ins: the ``days``
    looked at (the latest four weeks, or since the plan was last taken up), the days
    checked in and the morning and evening routines done on them, and irritation (0-5)."""

    days: int
    days_checked_in: int
    routines_done: int
    latest_irritation: int | None = None
    irritation_rising: bool = False

    @property
    def irritated(self) -> bool:
        return self.irritation_rising or (self.latest_irritation or 0) >= IRRITATED_LEVEL


@dataclass(frozen=True)
class PlanSummary:
    """The active plan, as a chat needs it: the week it is in, its routines and cautions.

    ``current_week`` counts the days followed since ``started_at`` (1: its first seven;
    days the plan was paused or set aside are not counted); a step whose ``start_week``
    is later has not begun, and the person should not use it yet.
    """

    title: str
    started_at: str
    duration_weeks: int | None
    am: tuple[PlanStep, ...]
    pm: tuple[PlanStep, ...]
    cautions: tuple[str, ...]
    current_week: int = 1
    recent_check_ins: CheckInsSummary | None = None

    @classmethod
    def from_plan(
        cls,
        content: Mapping[str, Any],
        *,
        title: str,
        started_at: str,
        days_paused: int = 0,
        recent_check_ins: CheckInsSummary | None = None,
        today: date | None = None,
    ) -> "PlanSummary":
        """From a stored plan's ``content`` dict, in the week ``today`` (UTC) falls in once
        the ``days_paused`` since ``started_at`` are left out."""
        weeks = content.get("duration_weeks")
        today = today or datetime.now(UTC).date()
        elapsed_days = (today - date.fromisoformat(started_at[:10])).days - days_paused
        return cls(
            title=title,
            started_at=started_at,
            duration_weeks=int(weeks) if weeks is not None else None,
            am=_steps(content.get("am")),
            pm=_steps(content.get("pm")),
            cautions=tuple(str(c) for c in content.get("cautions") or []),
            current_week=max(1, elapsed_days // 7 + 1),
            recent_check_ins=recent_check_ins,
        )

    def begun(self, steps: tuple[PlanStep, ...]) -> tuple[PlanStep, ...]:
        return tuple(step for step in steps if step.start_week <= self.current_week)

    @property
    def to_come(self) -> list[tuple[str, PlanStep]]:
        """The steps not begun yet, with their routine ("morning", "evening"), soonest first."""
        later = [
            (routine, step)
            for routine, steps in (("morning", self.am), ("evening", self.pm))
            for step in steps
            if step.start_week > self.current_week
        ]
        return sorted(later, key=lambda entry: entry[1].start_week)

    @property
    def run_its_course(self) -> bool:
        return self.duration_weeks is not None and self.current_week > self.duration_weeks


def _steps(steps: Any) -> tuple[PlanStep, ...]:
    ordered = sorted(
        (s for s in steps or [] if isinstance(s, Mapping)),
        key=lambda s: int(s.get("order") or s.get("step") or 0),
    )
    return tuple(
        PlanStep(
            category=str(s.get("category") or "step"),
            name=str(s.get("name") or s.get("category") or "step"),
            actives=tuple(str(a) for a in s.get("actives") or []),
            frequency=s.get("frequency"),
            start_week=_week_number(s.get("start_week")),
        )
        for s in ordered
    )


def _week_number(value: Any) -> int:
    """A step's ``start_week`` as stored (a number; 1 when missing or unreadable)."""
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


@dataclass(frozen=True)
class ChatContext:
    """Everything a provider may know of the person: no name, no email, no ids."""

    skin_type: str | None = None
    skin_concerns: tuple[str, ...] = ()
    sensitivities: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    age_range: str | None = None
    pregnant_or_breastfeeding: bool | None = None
    analysis: AnalysisSummary | None = None
    plan: PlanSummary | None = None
    plans_not_active: int = 0  # their plans paused, completed or set aside for another

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready data, grouped as the model reads it."""
        data = asdict(self)
        return {
            "profile": {
                name: data[name]
                for name in (
                    "skin_type",
                    "skin_concerns",
                    "sensitivities",
                    "allergies",
                    "age_range",
                    "pregnant_or_breastfeeding",
                )
            },
            "latest_analysis": data["analysis"],
            "active_plan": data["plan"],
            "plans_not_active": self.plans_not_active,
        }


class ChatProvider(Protocol):
    def reply(self, *, context: ChatContext, history: Sequence[ChatTurn], message: str) -> str:
        """The assistant's plain-text answer to ``message``; ChatFailed when there is none."""
        ...

    def stream_reply(
        self, *, context: ChatContext, history: Sequence[ChatTurn], message: str
    ) -> Iterator[str]:
        """The same answer in pieces, as they come; ChatFailed when it stops."""
        ...


def chat_provider() -> ChatProvider:
    """The provider of AI_CHAT_PROVIDER (unset: of AI_PROVIDER); every provider chats
    (``OfflineChat``, ``GeminiChat``)."""
    return cast(ChatProvider, get_provider("chat"))


def as_plain_text(text: str) -> str:
    """A model's answer as plain text: Markdown marks removed, length capped.

    Clients show the reply as text, never as HTML or Markdown; this only keeps stray
    formatting (headings, bold, code fences, ``*`` bullets) out of what they show.
    """
    return capped(without_markup(text))


def without_markup(text: str) -> str:
    lines = (plain_line(line) for line in text.replace("\r\n", "\n").split("\n"))
    return spaced("\n".join(line for line in lines if line is not None))


def plain_line(line: str) -> str | None:
    """One line without its Markdown marks; None for a code fence's line."""
    if line.strip().startswith("```"):
        return None
    line = HEADING_MARK.sub("", line)
    line = BULLET_MARK.sub(r"\1- ", line)
    return line.replace("**", "").replace("__", "")


def spaced(text: str) -> str:
    """No space at either end, and no more than one blank line in a row."""
    return BLANK_LINES.sub("\n\n", text).strip()


def capped(plain: str) -> str:
    if len(plain) > REPLY_MAX_LENGTH:
        return plain[:REPLY_MAX_LENGTH].rsplit(maxsplit=1)[0] + CUT_MARK
    return plain


def plain_text_pieces(chunks: Iterable[str]) -> Iterator[str]:
    """``as_plain_text`` of the chunks' text, in pieces as the chunks come.

    A model's stream may cut its text anywhere: inside a word, between the two stars of
    ``**``, after a line's ``#`` or ``*``. So a piece goes out once the text before it
    can no longer change: the cleaned text up to the last whitespace received
    (``PlainTextStream``). The pieces join to ``as_plain_text`` of the whole text; only
    a reply cut at REPLY_MAX_LENGTH may end a word later than it would (the cut mark
    follows what was sent already).
    """
    sent: list[str] = []
    sent_length = 0
    for piece in PlainTextStream().pieces(chunks):
        if sent_length + len(piece) > REPLY_MAX_LENGTH:
            whole = "".join(sent)
            cut = capped(whole + piece)
            yield cut[len(whole) :] if cut.startswith(whole) else CUT_MARK
            return
        if piece:
            sent.append(piece)
            sent_length += len(piece)
            yield piece


class PlainTextStream:
    """``without_markup`` as the text comes: what of the cleaned text is settled.

    A line's marks are taken out once the line's first word is whole (it decides a fence
    line or a heading), up to its last whitespace; a whole line once. Spaces and line
    breaks wait for the next word (``spaced``: none at the end, at most one blank line).
    Each piece of text is looked at about once, however many chunks bring it.
    """

    def __init__(self) -> None:
        self.line = ""  # the line being received, raw
        self.line_sent = ""  # its cleaned text passed on so far
        self.line_begun = False  # its break from the line before was passed on
        self.lines_kept = False  # a line before it was kept (a fence line is not)
        self.started = False  # a word was passed on: spaces before it are dropped
        self.spaces = ""  # spaces and breaks waiting for the next word

    def pieces(self, chunks: Iterable[str]) -> Iterator[str]:
        """What each chunk settles, then what the text's end does."""
        for chunk in chunks:
            yield self.feed(chunk)
        yield self.finish()

    def feed(self, chunk: str) -> str:
        *whole_lines, self.line = (self.line + chunk).split("\n")
        # "\r\n" ends a line as "\n" does (a lone "\r" stays, as in without_markup).
        cleaned = [self._line_ended(line.removesuffix("\r")) for line in whole_lines]
        line = self.line.removesuffix("\r")  # the "\r" of a "\r\n" still to come
        unsettled = UNSETTLED_END.search(line)  # always found: it may be empty
        settled = line[: unsettled.start()] if unsettled else line
        if settled.strip():
            cleaned.append(self._line_goes_on(plain_line(settled)))
        return self._spaced("".join(cleaned))

    def finish(self) -> str:
        return self._spaced(self._line_ended(self.line))

    def _line_goes_on(self, cleaned: str | None) -> str:
        if cleaned is None or not cleaned.startswith(self.line_sent):
            return ""  # a fence line, left out whole
        piece = cleaned[len(self.line_sent) :]
        self.line_sent = cleaned
        if not self.line_begun:
            self.line_begun = True
            piece = ("\n" if self.lines_kept else "") + piece
        return piece

    def _line_ended(self, line: str) -> str:
        cleaned = plain_line(line)
        piece = self._line_goes_on(cleaned)
        if cleaned is not None:
            self.lines_kept = True
        self.line_sent, self.line_begun = "", False
        return piece

    def _spaced(self, text: str) -> str:
        pieces = []
        for run in SPACES_OR_WORD.findall(text):
            if run[0].isspace():
                self.spaces += run
                continue
            if self.started:
                pieces.append(BLANK_LINES.sub("\n\n", self.spaces))
            self.started, self.spaces = True, ""
            pieces.append(run)
        return "".join(pieces)


def text_chunks(text: str, size: int = STREAM_CHUNK_CHARS) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters, split after whitespace."""
    piece = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        piece += word
        if len(piece) >= size:
            yield piece
            piece = ""
    if piece:
        yield piece


# --- the offline assistant ------------------------------------------------------------

OFFLINE_NOTICE = (
    "I'm the DermaLens offline assistant: I answer from your saved scans, your plan and "
    "general skin-care rules, not from an AI model."
)
NOT_A_DIAGNOSIS = "This is general skin-care guidance, not a diagnosis."
NO_PRESCRIPTIONS = (
    "I can't advise on prescription medicines or their doses; your doctor or pharmacist "
    "can, and they know your history."
)
SEE_A_DOCTOR = (
    "Please see a dermatologist soon, or go to urgent care today if it is getting worse "
    "quickly, you have a fever, your eye is involved or you have trouble breathing. This "
    "needs someone to look at it in person; I can't judge it from a chat."
)

# Signs that need a doctor, not a routine (matched in the message, case-insensitively).
RED_FLAGS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "a changing or bleeding mole",
            r"\bmoles?\b[^.?!]{0,60}\b(chang|grow|bigger|larger|bleed|itch|dark|irregular|"
            r"uneven|crust)|\b(chang|grow|bleed|itch|crust)\w*\b[^.?!]{0,60}\bmoles?\b",
        ),
        ("bleeding", r"\bbleed(s|ing)?\b|\bbled\b"),
        (
            "something spreading fast",
            r"\bspread\w*\b[^.?!]{0,40}\b(fast|quick\w*|rapid\w*)\b|"
            r"\b(fast|quick\w*|rapid\w*)\b[^.?!]{0,20}\bspread",
        ),
        ("fever", r"\bfever\w*\b|\bchills\b|\bhigh temperature\b"),
        (
            "your eye being involved",
            r"\b(eyes?|eyelids?)\b[^.?!]{0,40}\b(swell\w*|swollen|pain\w*|vision|blur\w*|"
            r"infect\w*|discharge|rash|spread\w*|shingles)|\b(rash|swelling|spread\w*|"
            r"infection|blister\w*|shingles)\b[^.?!]{0,40}\b(eyes?|eyelids?)\b",
        ),
        (
            "swelling of the face, lips or tongue",
            r"\b(swell\w*|swollen)\b[^.?!]{0,30}\b(face|lips?|tongue|throat)\b|"
            r"\b(face|lips?|tongue|throat)\b[^.?!]{0,30}\b(swell\w*|swollen)\b|"
            r"\b(trouble|difficulty|hard)\s+breathing\b",
        ),
    )
)
PRESCRIPTION = re.compile(
    r"\b(dose|doses|dosage|dosing|mg|milligrams?|prescri\w*|isotretinoin|accutane|"
    r"tretinoin|antibiotics?|doxycycline|minocycline|spironolactone|steroids?|"
    r"clindamycin|tablets?|pills?)\b",
    re.IGNORECASE,
)
# Everyday habits per metric; the ingredients come from ``skincare.actives``, filtered
# by the person's sensitivities and pregnancy (``suited_ingredients``).
METRIC_GUIDANCE = {
    "acne": "For breakouts: a gentle cleanser twice a day, a non-comedogenic moisturiser, "
    "one new active at a time, and no picking.",
    "redness": "For redness: keep the routine short and fragrance-free, and avoid hot water "
    "and scrubs.",
    "oiliness": "For shine: a gel cleanser and a light, oil-free moisturiser; skipping "
    "moisturiser tends to make skin oilier.",
    "hydration": "For dryness: a mild cleanser, lukewarm water, and moisturiser on damp skin.",
    "pigmentation": "For dark spots: broad-spectrum sunscreen every morning comes first; "
    "tone evens out over weeks, not days.",
    "wrinkles": "For fine lines: daily sunscreen and a good moisturiser; night-time actives "
    "are brought in slowly.",
    "pores": "For visible pores: non-comedogenic products and regular, gentle cleansing make "
    "them look smaller; nothing closes them.",
    "texture": "For rough texture: gentle exfoliation a few times a week and steady "
    "moisturising; over-exfoliating makes it worse.",
    "radiance": "For dullness: gentle exfoliation, daily sunscreen and good hydration help "
    "skin look brighter.",
    "firmness": "For firmness: sunscreen every day and patience; skin changes over months.",
    "dark_circles": "For dark circles: sleep and sunscreen help a little; genes play a large part.",
    "eye_bags": "For puffiness: enough sleep, less salt in the evening and a cool compress "
    "in the morning.",
}
EXTRA_GUIDANCE = {
    "sunscreen": "Sunscreen: broad-spectrum SPF 30 or higher every morning, a generous "
    "amount, reapplied every two hours outdoors.",
    "retinoid": "Retinoids: start two or three nights a week, build up slowly, use "
    "sunscreen daily, and skip them while pregnant or breastfeeding.",
}
# The retinoid topic for a person who must not use them (an allergy, a sensitivity,
# pregnancy or breastfeeding): how to use them would be advice against their profile.
RETINOID_AVOIDED = (
    "Retinoids: from what you told us, they are not for you; leave them out, and ask a "
    "dermatologist before any product that holds one."
)
TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (topic, re.compile(pattern, re.IGNORECASE))
    for topic, pattern in (
        ("pigmentation", r"dark spots?|pigment|melasma|uneven (skin )?tone|sun ?spots?"),
        ("dark_circles", r"dark circles?"),
        ("eye_bags", r"eye ?bags?|puff"),
        ("acne", r"acne|pimples?|breakouts?|blemish|zits?|whiteheads?|blackheads?"),
        ("redness", r"\bred(ness)?\b|rosacea|flush|irritat|sting"),
        ("oiliness", r"\boil|shin(e|y)|greasy|sebum"),
        ("hydration", r"\bdry|dehydrat|flak|tight|hydrat|moistur"),
        ("wrinkles", r"wrinkles?|fine lines?|\bageing|\baging|anti-?age"),
        ("pores", r"\bpores?\b"),
        ("texture", r"texture|rough|bumpy"),
        ("radiance", r"\bdull|glow|radian|bright"),
        ("firmness", r"\bfirm|sagg|elastic"),
        ("sunscreen", r"sunscreen|\bspf\b|sun ?block|\bsun\b"),
        ("retinoid", r"retin(ol|oid|al)"),
    )
)
ASKS_ABOUT_PLAN = re.compile(
    r"\b(plan|routine|morning|evening|night|steps?|products?)\b", re.IGNORECASE
)


SENSITIVITY_LABELS = {"aha_bha": "AHA/BHA acids", "vitamin_c": "vitamin C"}
WHAT_TO_ASK = (
    "Ask me about your scan results, your routine, or a concern such as breakouts, redness "
    "or dryness."
)


def metric_label(metric: str) -> str:
    return metric.replace("_", " ")


def red_flags_in(message: str) -> list[str]:
    return [name for name, pattern in RED_FLAGS if pattern.search(message)]


def offline_reply(context: ChatContext, history: Sequence[ChatTurn], message: str) -> str:
    """A rule-based answer from the person's data; ``history`` is not needed by the rules."""
    flags = red_flags_in(message)
    if flags:
        return "\n\n".join(
            [
                OFFLINE_NOTICE,
                f"What you describe ({', '.join(flags)}) is a reason to have it checked. "
                + SEE_A_DOCTOR,
                NOT_A_DIAGNOSIS,
            ]
        )
    paragraphs = [OFFLINE_NOTICE]
    if PRESCRIPTION.search(message):
        paragraphs.append(NO_PRESCRIPTIONS)
    guidance = _guidance(context, message)
    paragraphs += guidance or [WHAT_TO_ASK]
    paragraphs.append(_analysis_paragraph(context.analysis))
    plan = _plan_paragraph(
        context.plan,
        asked=bool(ASKS_ABOUT_PLAN.search(message)),
        plans_not_active=context.plans_not_active,
    )
    if plan:
        paragraphs.append(plan)
    paragraphs += _profile_cautions(context, message)
    paragraphs.append(NOT_A_DIAGNOSIS)
    return "\n\n".join(paragraphs)


def _guidance(context: ChatContext, message: str) -> list[str]:
    topics = [topic for topic, pattern in TOPICS if pattern.search(message)]
    if not topics and context.analysis:
        topics = [metric for metric, _ in context.analysis.lowest()]
    if not topics:
        topics = [c for c in context.skin_concerns if c in METRIC_GUIDANCE]
    guidance = {**METRIC_GUIDANCE, **EXTRA_GUIDANCE}
    paragraphs = []
    avoided = ruled_out(context)
    for topic in topics[:TOPICS_SHOWN]:
        text = guidance[topic]
        if topic == "retinoid" and avoids_retinoids(avoided):
            text = RETINOID_AVOIDED
        ingredients = suited_ingredients(topic, avoided)
        if ingredients:
            text += f" Ingredients that suit you for this: {', '.join(ingredients)}."
        paragraphs.append(text)
    return paragraphs


def ruled_out(context: ChatContext) -> frozenset[str]:
    """The actives the person must not use: of a kind their sensitivities (or a pregnancy)
    rule out, or named by their allergies, as plans leave them out."""
    kinds = excluded_kinds(context.sensitivities, pregnant=bool(context.pregnant_or_breastfeeding))
    by_kind = frozenset(active for active in ACTIVES if kind_of(active) in kinds)
    return by_kind | allergens(context.allergies)


def avoids_retinoids(avoided: frozenset[str]) -> bool:
    """Whether the actives ``avoided`` (``ruled_out``) hold a retinoid."""
    return any(kind_of(active) == RETINOID for active in avoided)


def suited_ingredients(metric: str, avoided: frozenset[str]) -> list[str]:
    """The actives suited to a metric's concern (best first, as the plan rules rank them),
    minus those ``avoided`` (``ruled_out`` for the person)."""
    concern = METRIC_CONCERNS.get(metric)
    if concern is None:
        return []
    return [
        ACTIVES[active]["label"]
        for active in CONCERN_ACTIVES.get(concern, ())
        if active not in avoided
    ][:INGREDIENTS_SHOWN]


def _analysis_paragraph(analysis: AnalysisSummary | None) -> str:
    if analysis is None:
        return "You have no analysed scan yet; after a scan I can point to your own results."
    day = analysis.scanned_at[:10]
    overall = (
        f" scored {analysis.overall_score:.0f}/100 overall"
        if analysis.overall_score is not None
        else ""
    )
    lowest = analysis.lowest()
    if not lowest:
        return f"Your latest scan ({day}){overall}."
    listed = " and ".join(f"{metric_label(m)} ({score:.0f})" for m, score in lowest)
    return (
        f"Your latest scan ({day}){overall}; its lowest scores were {listed}, "
        "on a 0-100 scale where higher is healthier."
    )


def _plan_paragraph(
    plan: PlanSummary | None, *, asked: bool, plans_not_active: int = 0
) -> str | None:
    if plan is None:
        if not asked:
            return None
        if plans_not_active:
            return (
                "You have no active plan now: yours is paused or done. You can take it up "
                "again from your plans, where it goes on from the week it stopped in, or "
                "build a new one from a scan."
            )
        return "You have no active plan yet; you can build one from a scan."
    routines = []
    for label, steps in (("Morning", plan.begun(plan.am)), ("Evening", plan.begun(plan.pm))):
        if steps:
            routines.append(f"{label}: {'; '.join(step.describe() for step in steps)}.")
    if plan.run_its_course:
        text = (
            f'Your active plan is "{plan.title}", now past its {plan.duration_weeks} weeks: '
            "a new scan shows how far you have come, and a new plan can start from it."
        )
    else:
        of_weeks = f" of {plan.duration_weeks}" if plan.duration_weeks else ""
        text = f'Your active plan is "{plan.title}", in week {plan.current_week}{of_weeks}.'
    if routines:
        text += " " + " ".join(routines)
    if plan.to_come:
        later = "; ".join(
            f"{step.name} ({routine}) from week {step.start_week}" for routine, step in plan.to_come
        )
        text += f" Not yet, one new active at a time: {later}."
    text += _check_ins_sentence(plan.recent_check_ins)
    if plan.cautions:
        text += f" Keep in mind: {plan.cautions[0]}"
    return text


def _check_ins_sentence(recent: CheckInsSummary | None) -> str:
    if recent is None:
        return ""
    if not recent.days_checked_in:
        since = "yet today" if recent.days == 1 else f"over the last {recent.days} days"
        return (
            f" You have not checked in {since}: a daily check-in (morning, evening, "
            "irritation) shows how the plan is going."
        )
    period = "Today" if recent.days == 1 else f"In the last {recent.days} days"
    days = f"{recent.days_checked_in} day{'s' if recent.days_checked_in != 1 else ''}"
    text = (
        f" {period} you checked in on {days} and did {recent.routines_done} of their "
        f"{2 * recent.days_checked_in} routines."
    )
    if recent.irritated:
        rising = "has been rising" if recent.irritation_rising else "is high"
        text += (
            f" Your irritation {rising} (latest {recent.latest_irritation}/5): use the "
            "newest active less often or pause it, keep to the gentle steps and sunscreen, "
            "and see a dermatologist if it does not settle within two weeks."
        )
    return text


def _profile_cautions(context: ChatContext, message: str) -> list[str]:
    cautions = []
    reacts_to = [
        SENSITIVITY_LABELS.get(s, s.replace("_", " ")) for s in context.sensitivities
    ] + list(context.allergies)
    if reacts_to:
        cautions.append(
            f"You told us you react to {', '.join(reacts_to)}: check the ingredient list "
            "and patch-test anything new on a small area for a few days."
        )
    mentions_retinoid = re.search(r"retin|wrinkle|fine line|aging|ageing", message, re.I)
    if context.pregnant_or_breastfeeding and mentions_retinoid:
        cautions.append(
            "As you are pregnant or breastfeeding, avoid retinoids and ask your doctor or "
            "midwife before starting a new active."
        )
    return cautions


class OfflineChat:
    """Chat for the offline provider (a mixin for ``OfflineProvider``; usable alone)."""

    def reply(self, *, context: ChatContext, history: Sequence[ChatTurn], message: str) -> str:
        return offline_reply(context, history, message)

    def stream_reply(
        self, *, context: ChatContext, history: Sequence[ChatTurn], message: str
    ) -> Iterator[str]:
        yield from text_chunks(self.reply(context=context, history=history, message=message))
