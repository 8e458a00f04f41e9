"""The offline assistant's rules: grounded in the person's data, red flags to a doctor,
never a prescription, always saying that it is offline."""

import random
from datetime import date, timedelta

import pytest

from ai.chat import (
    CUT_MARK,
    REPLY_MAX_LENGTH,
    AnalysisSummary,
    ChatContext,
    CheckInsSummary,
    PlanSummary,
    as_plain_text,
    offline_reply,
    plain_text_pieces,
    text_chunks,
    without_markup,
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


PHASED = {
    "duration_weeks": 12,
    "am": [
        {"order": 1, "category": "cleanser", "name": "Gentle cleanser", "start_week": 1},
        {"order": 2, "category": "treatment", "name": "Benzoyl peroxide gel", "start_week": 3},
        {"order": 3, "category": "sunscreen", "name": "Sunscreen SPF 50", "start_week": 1},
    ],
    "pm": [
        {"order": 1, "category": "treatment", "name": "Adapalene gel", "start_week": 1},
        {"order": 2, "category": "treatment", "name": "Azelaic acid cream", "start_week": 5},
    ],
}


def phased_plan(days_ago: int) -> ChatContext:
    today = date(2026, 11, 28)
    began = (today - timedelta(days=days_ago)).isoformat() + "T08:00:00.000Z"
    plan = PlanSummary.from_plan(PHASED, title="Clear skin", started_at=began, today=today)
    return ChatContext(plan=plan)


@pytest.mark.parametrize(
    "days_ago, week, begun, to_come",
    [
        (0, 1, ["Gentle cleanser", "Adapalene gel"], ["Benzoyl peroxide", "Azelaic acid"]),
        (16, 3, ["Benzoyl peroxide gel", "Adapalene gel"], ["Azelaic acid cream"]),
        (40, 6, ["Benzoyl peroxide gel", "Azelaic acid cream"], []),
    ],
)
def test_the_plan_is_told_as_of_its_week_and_steps_to_come_are_not_yet_in_the_routine(
    days_ago, week, begun, to_come
):
    answer = reply("What is in my plan this week?", phased_plan(days_ago))
    assert f"in week {week} of 12" in answer
    routine = answer.split("Not yet", 1)[0]
    for name in begun:
        assert name in routine
    for name in to_come:
        assert name not in routine
        assert name in answer.split("Not yet", 1)[1]
    assert ("Not yet" in answer) == bool(to_come)


def test_a_plan_past_its_weeks_is_said_to_have_run_its_course():
    answer = reply("How is my plan going?", phased_plan(days_ago=150))
    assert "past its 12 weeks" in answer
    assert "a new scan" in answer
    assert "Not yet" not in answer


def followed(recent: CheckInsSummary) -> ChatContext:
    plan = PlanSummary.from_plan(
        PHASED,
        title="Clear skin",
        started_at="2026-11-01T08:00:00.000Z",
        recent_check_ins=recent,
        today=date(2026, 11, 28),
    )
    return ChatContext(plan=plan)


def test_the_plan_is_told_with_how_it_has_gone_lately():
    recent = CheckInsSummary(days=14, days_checked_in=9, routines_done=15, latest_irritation=1)
    answer = reply("How is my plan going?", followed(recent))
    assert "In the last 14 days you checked in on 9 days and did 15 of their 18 routines." in (
        answer
    )
    assert "Your irritation" not in answer


@pytest.mark.parametrize(
    "recent, said",
    [
        (
            CheckInsSummary(14, 6, 12, latest_irritation=4, irritation_rising=True),
            "Your irritation has been rising (latest 4/5)",
        ),
        (CheckInsSummary(14, 2, 4, latest_irritation=3), "Your irritation is high (latest 3/5)"),
    ],
)
def test_rising_or_high_irritation_is_told_with_what_to_do(recent, said):
    answer = reply("Hello", followed(recent))
    assert said in answer
    assert "use the newest active less often or pause it" in answer
    assert "see a dermatologist" in answer


def test_no_check_ins_lately_is_said_with_what_a_check_in_is_for():
    answer = reply("How is my plan going?", followed(CheckInsSummary(14, 0, 0)))
    assert "You have not checked in over the last 14 days" in answer


@pytest.mark.parametrize(
    "recent, said",
    [
        (CheckInsSummary(1, 0, 0), "You have not checked in yet today:"),
        (CheckInsSummary(1, 1, 2), "Today you checked in on 1 day and did 2 of their 2 routines."),
        (CheckInsSummary(3, 1, 1), "In the last 3 days you checked in on 1 day and did 1 of"),
    ],
)
def test_a_plan_begun_or_taken_up_lately_is_told_in_its_own_days(recent, said):
    assert said in reply("How is my plan going?", followed(recent))


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


@pytest.mark.parametrize(
    ("allergies", "question", "left_out"),
    [
        (("vitamin c",), "My skin looks dull", "Vitamin C serum"),
        (("Azelaic acid",), "I have dark spots", "Azelaic acid 10% cream"),
        (("salicylates",), "How do I treat acne?", "Salicylic acid (BHA) 2%"),
        (("retinoids",), "Anything for wrinkles?", "Retinol serum"),
    ],
)
def test_ingredients_leave_out_what_the_person_s_allergies_name(allergies, question, left_out):
    answer = reply(question, ChatContext(allergies=allergies))
    suggested = answer.split("Ingredients that suit you", 1)[1].split(".\n")[0]
    assert left_out not in suggested
    assert f"react to {allergies[0]}" in answer  # named back as a caution


@pytest.mark.parametrize(
    "context",
    [
        ChatContext(allergies=("tretinoin",)),
        ChatContext(sensitivities=("retinoids",)),
        ChatContext(pregnant_or_breastfeeding=True),
    ],
    ids=["allergic", "sensitive", "pregnant"],
)
def test_asked_about_retinol_someone_who_must_not_use_it_is_told_to_leave_it_out(context):
    answer = reply("Should I start retinol for my wrinkles?", context)
    assert "they are not for you" in answer
    assert "start two or three nights a week" not in answer
    # Someone free to use them gets the how-to.
    assert "start two or three nights a week" in reply("Should I start retinol?", ChatContext())


def test_markdown_is_taken_out_of_a_reply():
    assert as_plain_text("# Hi\n**bold** and __this__\n* one\n+ two") == (
        "Hi\nbold and this\n- one\n- two"
    )


def test_chunks_put_the_text_back_together_exactly():
    text = "Use sunscreen every morning,\nand reapply outdoors.  " * 5
    pieces = list(text_chunks(text, size=16))
    assert len(pieces) > 5
    assert "".join(pieces) == text


# Answers as a model writes them: marks at line starts, inside words, runs of blank
# lines, a fence, Windows line ends, leading and trailing space.
MODEL_ANSWERS = (
    "## Your routine\n\n* **Morning**: cleanser, then sunscreen.\n+ **Evening**: moisturiser.",
    "  \n\nStart slowly.\n\n\n\n\nUse __niacinamide__ daily; SPF**50** is plenty.  \n ",
    "```python\nprint('x')\n```\nNo code here, just advice:\r\n* one\r\n* two\r\n",
    "# Title\n### Sub\n####### not a heading\n*not a bullet*\n  * indented bullet",
    "Ünïcödé skin-care tips 🙂: use SPF—every day.\n\n- already a dash\n__ __ ** **",
    "word " * 1700,  # past REPLY_MAX_LENGTH: cut at a word
    "x" * 9000,  # past it, and no word to cut at
    "```\n```\n",  # markup only
)


def random_cuts(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 40))))
    return [text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("answer", MODEL_ANSWERS)
def test_a_streamed_answer_cut_anywhere_is_cleaned_as_the_whole_answer(answer):
    rng = random.Random(answer)
    whole = as_plain_text(answer)
    for _ in range(200):
        pieces = list(plain_text_pieces(random_cuts(answer, rng)))
        assert all(pieces), "no empty piece goes out"
        joined = "".join(pieces)
        if len(without_markup(answer)) <= REPLY_MAX_LENGTH:
            assert joined == whole
        else:
            # What went out stays out: the cut may come a word later than in the whole.
            assert joined.endswith(CUT_MARK) and whole.endswith(CUT_MARK)
            assert without_markup(answer).startswith(joined.removesuffix(CUT_MARK))
            assert len(whole) <= len(joined) <= REPLY_MAX_LENGTH + len(CUT_MARK)


def test_a_streamed_answer_goes_out_before_its_end():
    chunks = ["Use a gentle ", "cleanser, then a ", "light moist", "uriser."]
    pieces = plain_text_pieces(iter(chunks))
    assert next(pieces) == "Use a gentle"
    assert next(pieces) == " cleanser, then a"
    assert list(pieces) == [" light", " moisturiser."]
