"""The offline assistant's rules: grounded in the person's data, red flags to a doctor,
never a prescription, always saying that it is offline."""

import pytest

from ai.chat import (
    AnalysisSummary,
    ChatContext,
    PlanSummary,
    as_plain_text,
    offline_reply,
    text_chunks,
)

ANALYSIS = AnalysisSummary.from_scan(
    {
        "overall_score": 71,
        "skin_type": "combination",
        "metrics": {
            "redness": {"score": 38, "confidence": 0.7},
            "pores": {"score": 52, "confidence": 0.7},
            "acne": {"score": 84, "confidence": 0.8},
            "dark_circles": {"score": None, "confidence": 0.1},
        },
    },
    scanned_at="2026-11-20T08:00:00.000Z",
    area="face",
)
PLAN = PlanSummary.from_plan(
    {
        "am": [
            {"order": 2, "category": "sunscreen", "name": "Sunscreen SPF 50"},
            {"order": 1, "category": "cleanser", "name": "Gentle cleanser"},
        ],
        "pm": [{"order": 1, "category": "treatment", "name": "Azelaic acid 10% cream"}],
        "cautions": ["Patch-test each new product first."],
    },
    title="Calm redness",
    started_at="2026-11-20T08:05:00.000Z",
)
GROUNDED = ChatContext(skin_type="combination", analysis=ANALYSIS, plan=PLAN)


def reply(message: str, context: ChatContext = GROUNDED) -> str:
    return offline_reply(context, [], message)


@pytest.mark.parametrize(
    "message",
    [
        "A mole on my arm is changing shape",
        "my mole started bleeding yesterday",
        "There's a sore on my chin that keeps bleeding",
        "The rash is spreading really fast",
        "I have a rash and a fever",
        "The rash reached my eye and my eyelid is swollen",
        "My lips are swelling after a new cream",
    ],
)
def test_a_red_flag_sends_the_person_to_a_dermatologist_or_urgent_care(message):
    answer = reply(message)
    assert "see a dermatologist" in answer
    assert "urgent care" in answer
    assert "Morning:" not in answer  # no routine in place of a doctor


@pytest.mark.parametrize(
    "message",
    [
        "How do I get rid of eye bags?",
        "What helps dark circles under my eyes?",
        "Is my skin getting better?",
        "Which moisturiser for dry skin?",
    ],
)
def test_everyday_questions_are_not_red_flags(message):
    assert "urgent care" not in reply(message)


@pytest.mark.parametrize("message", ["hello", "What is my routine?", "mole changing", "dose?"])
def test_every_answer_says_it_is_offline_and_not_a_diagnosis(message):
    answer = reply(message)
    assert "offline assistant" in answer
    assert "not a diagnosis" in answer


def test_the_answer_names_the_lowest_scores_and_the_plans_morning_and_evening_steps():
    answer = reply("What should I do?")
    assert "redness (38) and pores (52)" in answer
    assert "71/100" in answer
    assert "Morning: Gentle cleanser; Sunscreen SPF 50." in answer
    assert "Evening: Azelaic acid 10% cream." in answer
    assert '"Calm redness"' in answer


def test_without_data_it_says_so_and_offers_what_to_ask():
    answer = reply("What is my plan?", ChatContext())
    assert "no analysed scan yet" in answer
    assert "no active plan yet" in answer


@pytest.mark.parametrize(
    "message",
    ["What dose of isotretinoin should I take?", "How many mg of doxycycline?"],
)
def test_prescription_questions_get_no_dosing(message):
    answer = reply(message)
    assert "can't advise on prescription medicines" in answer
    assert " mg" not in answer


def test_ingredients_leave_out_what_the_person_must_avoid():
    sensitive = ChatContext(sensitivities=("aha_bha", "benzoyl_peroxide"))
    answer = reply("How do I treat acne?", sensitive)
    assert "Ingredients that suit you" in answer
    assert "Salicylic acid" not in answer and "Benzoyl peroxide" not in answer
    assert "AHA/BHA acids" in answer  # named back as a caution
    pregnant = ChatContext(pregnant_or_breastfeeding=True)
    answer = reply("Anything for wrinkles?", pregnant)
    assert "Retinol" not in answer.split("Ingredients that suit you", 1)[1].split(".")[0]
    assert "avoid retinoids" in answer


def test_markdown_is_taken_out_of_a_reply():
    assert as_plain_text("# Hi\n**bold** and __this__\n* one\n+ two") == (
        "Hi\nbold and this\n- one\n- two"
    )


def test_chunks_put_the_text_back_together_exactly():
    text = "Use sunscreen every morning,\nand reapply outdoors.  " * 5
    pieces = list(text_chunks(text, size=16))
    assert len(pieces) > 5
    assert "".join(pieces) == text
