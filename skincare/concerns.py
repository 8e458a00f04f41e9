"""What a person may want to treat, and which analysis metric speaks to each concern.

    METRIC_CONCERNS["hydration"]     # "dryness": a low hydration score means dry skin
    CONCERN_METRICS["dryness"]       # "hydration": the metric a dryness goal is tracked by

The concerns are also the choices of a profile's ``skin_concerns``.
"""

CONCERNS = (
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
# How marked a concern an analysis found is.
SEVERITIES = ("mild", "moderate", "severe")

# Which concern each analysis metric speaks to (hydration low means dryness).
METRIC_CONCERNS = {
    "acne": "acne",
    "redness": "redness",
    "oiliness": "oiliness",
    "hydration": "dryness",
    "pigmentation": "pigmentation",
    "wrinkles": "wrinkles",
    "pores": "pores",
    "texture": "texture",
    "radiance": "pigmentation",
    "firmness": "wrinkles",
    "dark_circles": "dark_circles",
    "eye_bags": "dark_circles",
}
# The metric a stated concern is measured by, for its goal.
CONCERN_METRICS = {
    "acne": "acne",
    "redness": "redness",
    "oiliness": "oiliness",
    "dryness": "hydration",
    "pigmentation": "pigmentation",
    "wrinkles": "wrinkles",
    "pores": "pores",
    "texture": "texture",
    "dark_circles": "dark_circles",
    "sensitivity": "redness",
}
