"""What a skin analysis scores, in which regions, how a score reads, and where it came from.

    band_for(82.5)            # "great"
    SOURCES                   # ("measured", "model")

Scores are 0-100 and one direction only: **higher is healthier** (as in the commercial
skin-analysis APIs), so an acne score of 90 means little acne.
"""

METRICS = (
    "acne",
    "redness",
    "oiliness",
    "hydration",
    "pigmentation",
    "wrinkles",
    "pores",
    "texture",
    "radiance",
    "firmness",
    "dark_circles",
    "eye_bags",
)
REGIONS = (
    "forehead",
    "nose",
    "left_cheek",
    "right_cheek",
    "chin",
    # Placed by face landmarks: the offline analyser scores them when it finds the face.
    "left_under_eye",
    "right_under_eye",
    "left_crows_feet",
    "right_crows_feet",
    "left_nasolabial",
    "right_nasolabial",
)
SKIN_TYPES = ("normal", "dry", "oily", "combination", "sensitive")

# (lower bound, band): a score above the bound gets the band; 30 or less is "bad".
BANDS = ((90, "excellent"), (80, "great"), (70, "good"), (50, "average"), (30, "poor"))
LOWEST_BAND = "bad"
BAND_NAMES = (*(name for _, name in BANDS), LOWEST_BAND)

# Where a metric's score came from: measured from the photo's pixels (the same photo
# always gives the same number), or judged by a model (which may vary from call to call).
MEASURED = "measured"
MODEL = "model"
SOURCES = (MEASURED, MODEL)


def band_for(score: float | None) -> str | None:
    """The band a 0-100 score falls in; ``None`` for a metric that was not judged."""
    if score is None:
        return None
    for bound, name in BANDS:
        if score > bound:
            return name
    return LOWEST_BAND
