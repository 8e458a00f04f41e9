"""The fixed choices of a DermaLens profile (product decisions, in one place)."""

SKIN_TYPES = ("normal", "dry", "oily", "combination", "sensitive")
SKIN_CONCERNS = (
    "acne",
    "redness",
    "pigmentation",
    "wrinkles",
    "dryness",
    "oiliness",
    "pores",
    "dark_circles",
    "texture",
    "sensitivity",
)
SENSITIVITIES = (
    "fragrance",
    "essential_oils",
    "alcohol",
    "lanolin",
    "parabens",
    "sulfates",
    "retinoids",
    "aha_bha",
    "benzoyl_peroxide",
    "vitamin_c",
    "niacinamide",
)
AGE_RANGES = ("under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus")

FULL_NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
ALLERGIES_MAX_ITEMS = 10
ALLERGY_MAX_LENGTH = 80
