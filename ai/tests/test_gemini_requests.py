"""google-genai's name lookups in its models (``answer_name_lookups_directly``): the
requests each use sends are byte for byte those google-genai builds alone, and building
them no longer lists a model's fields for every field it reads."""

import pydantic
import pytest
from google.genai import _common as genai_common
from google.genai import types

from ai.analysis import SkinAnalysis
from ai.chat import AnalysisSummary, ChatContext, ChatTurn, PlanStep, PlanSummary
from ai.gemini_client import generation_config
from ai.providers import SkinProfile
from ai.tests.test_gemini import PROFILE, SAMPLE_FACE
from plans.rules import build_plan
from tests.fake_gemini import FakeResponse, valid_analysis_answer

HISTORY = [
    ChatTurn(role="user" if number % 2 == 0 else "assistant", content=f"Turn {number}: {text}")
    for number, text in enumerate(
        [
            "My cheeks go red after washing.",
            "A gentle, fragrance-free cleanser and lukewarm water usually help.",
            "Can I keep using my retinol?",
            "Yes, every other evening while your skin settles; stop if it stings.",
            "And sunscreen over my moisturiser?",
            "Sunscreen goes last in the morning, after the moisturiser has set.",
            "Is niacinamide fine with that?",
            "Yes, niacinamide pairs well with both.",
            "What about a vitamin C serum?",
            "In the morning, under the sunscreen; start with a low strength.",
        ]
    )
]


def chat_context() -> ChatContext:
    return ChatContext(
        skin_type="combination",
        skin_concerns=("acne", "redness"),
        sensitivities=("fragrance",),
        age_range="25-34",
        analysis=AnalysisSummary(
            scanned_at="2026-11-20T08:00:00Z",
            area="face",
            overall_score=64.0,
            skin_type="combination",
            scores={"redness": 41.0, "acne": 58.0},
            concerns=("redness",),
            red_flags=(),
            summary="Some redness on the cheeks.",
            heuristic=False,
        ),
        plan=PlanSummary(
            title="Calm and clear",
            started_at="2026-11-01T08:00:00Z",
            duration_weeks=8,
            am=(PlanStep(category="cleanser", name="Gentle cleanser"),),
            pm=(PlanStep(category="treatment", name="Retinol", frequency="every_other_day"),),
            cautions=("Stop if it stings.",),
        ),
    )


def chat(provider) -> object:
    return provider.reply(context=chat_context(), history=HISTORY, message="Anything else?")


def first_chat(provider) -> object:
    return provider.reply(context=ChatContext(), history=[], message="Is my skin dry?")


def draft(provider) -> object:
    base = build_plan(analysis=None, profile=SkinProfile())
    return provider.draft_plan(base_plan=base, analysis=None, profile=PROFILE)


def analyse(provider) -> SkinAnalysis:
    image = SAMPLE_FACE.read_bytes()
    return provider.analyze_skin(image_jpeg=image, area="face", profile=PROFILE)


USES = {
    "chat with ten earlier turns": (chat, lambda: FakeResponse.text_answer("Keep it simple.")),
    "a session's first message": (first_chat, lambda: FakeResponse.text_answer("Not dry.")),
    "plan drafting": (
        draft,
        lambda: FakeResponse.json_answer(build_plan(analysis=None, profile=SkinProfile())),
    ),
    "photo analysis": (analyse, lambda: FakeResponse.json_answer(valid_analysis_answer())),
}


@pytest.mark.parametrize("use", USES)
def test_each_use_sends_the_request_google_genai_builds_alone(
    use, gemini, fake_gemini, monkeypatch
):
    call, answer = USES[use]
    fake_gemini.enqueue(answer(), answer())

    with_lookups = call(gemini)
    monkeypatch.delattr(genai_common.BaseModel, "__contains__")
    alone = call(gemini)

    first, second = fake_gemini.requests
    assert first.body == second.body
    assert first.path == second.path
    if isinstance(with_lookups, SkinAnalysis):
        with_lookups, alone = (
            analysis.to_dict() | {"analyzed_at": None} for analysis in (with_lookups, alone)
        )
    assert with_lookups == alone


@pytest.mark.parametrize("use", USES)
def test_building_and_reading_a_call_lists_no_model_fields(use, gemini, fake_gemini, monkeypatch):
    call, answer = USES[use]
    fake_gemini.enqueue(answer())
    listed: list[type] = []
    iterate = pydantic.BaseModel.__iter__

    def counted(model):
        listed.append(type(model))
        return iterate(model)

    monkeypatch.setattr(pydantic.BaseModel, "__iter__", counted)

    call(gemini)

    assert listed == []


def test_in_answers_as_pydantic_does(gemini):
    # Making the provider (the fixture) gave google-genai's models their ``in``.
    config = generation_config(instruction="Answer briefly.", use="chat", temperature=0.5)
    content = types.Content(role="user", parts=[types.Part(text="Hello")])
    for model in (config, content, content.parts[0]):
        pairs = list(iter(model))
        names = [*type(model).model_fields, "_self", "systemInstruction", "absent"]
        assert all(name not in model for name in names)
        assert all(pair in model for pair in pairs)
        assert ("text", "Goodbye") not in model
        assert all((name in model) == (name in pairs) for name in names)


# The temperature each use sends to a model before Gemini 3, and its output ceiling.
TUNED = {
    "chat with ten earlier turns": (0.5, 2048),
    "a session's first message": (0.5, 2048),
    "plan drafting": (0.4, 8192),
    "photo analysis": (0.2, 8192),
}


@pytest.mark.parametrize("use", USES)
@pytest.mark.parametrize(
    ("model", "tuned"),
    [
        ("gemini-3.5-flash", False),
        ("gemini-3-pro-preview", False),
        ("models/gemini-3.1-flash-lite", False),
        ("gemini-10-ultra", False),
        ("gemini-2.5-flash", True),
        ("gemini-2.0-flash-lite", True),
    ],
)
def test_gemini_3_models_keep_their_own_temperature_and_every_answer_has_a_ceiling(
    use, model, tuned, make_gemini, gemini_settings, fake_gemini
):
    # Gemini 3 is tuned for its default (1.0); lower, it can loop, in JSON answers too,
    # and a loop runs on to the output ceiling: every use sets one well under the
    # model's own (about 65k tokens).
    gemini_settings.GEMINI_MODEL = model
    call, answer = USES[use]
    fake_gemini.enqueue(answer())

    call(make_gemini())

    config = fake_gemini.requests[0].body["generationConfig"]
    temperature, ceiling = TUNED[use]
    assert config.get("temperature") == (temperature if tuned else None)
    assert config["maxOutputTokens"] == ceiling
