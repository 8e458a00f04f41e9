"""The fixed choices of a DermaLens profile (product decisions, in one place)."""

from skincare import actives, concerns, metrics

# The skin-care words a profile shares with analyses and plans.
SKIN_TYPES = metrics.SKIN_TYPES
SKIN_CONCERNS = concerns.CONCERNS
SENSITIVITIES = actives.SENSITIVITIES
AGE_RANGES = ("under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus")

FULL_NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
ALLERGIES_MAX_ITEMS = 10
ALLERGY_MAX_LENGTH = 80
