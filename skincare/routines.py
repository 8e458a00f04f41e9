"""The parts of a treatment plan's routines and the limits of a plan's content.

    STEP_CATEGORIES.index("sunscreen")   # the last category a routine applies

Shared by the rules that build a plan, the safety check that validates one, and the
response schema a model drafts a plan against, so the three agree.
"""

ROUTINES = ("am", "pm")
# In the order they go on the skin; a routine's steps are sorted by it.
STEP_CATEGORIES = (
    "cleanser",
    "toner",
    "exfoliant",
    "serum",
    "treatment",
    "eye_cream",
    "moisturiser",
    "sunscreen",
)
# Most often first.
FREQUENCIES = ("daily", "every_other_day", "2_3_times_week", "weekly")

MIN_PLAN_WEEKS = 2
MAX_PLAN_WEEKS = 24
MAX_STEPS_PER_ROUTINE = 8
MAX_ACTIVES_PER_STEP = 4
MAX_LIST_ITEMS = 12
TITLE_MAX_CHARS = 120
TEXT_MAX_CHARS = 300
