"""The actives a treatment plan may use, their kinds, what rules them out and what clashes.

    kind_of("adapalene")                        # "retinoid"
    avoided_kinds(("retinoids", "fragrance"))   # frozenset({"retinoid"})
    allergens(("Vitamin C", "nickel"))          # frozenset({"vitamin_c"})
    clashes("retinoid", "aha")                  # True

Over-the-counter product strengths only; nothing prescription-only beyond adapalene 0.1%.
"""

import re
import unicodedata
from collections.abc import Iterable

ACTIVES: dict[str, dict[str, str]] = {
    "adapalene": {"label": "Adapalene 0.1% gel", "kind": "retinoid"},
    "retinol": {"label": "Retinol serum", "kind": "retinoid"},
    "retinal": {"label": "Retinal (retinaldehyde) serum", "kind": "retinoid"},
    "salicylic_acid": {"label": "Salicylic acid (BHA) 2%", "kind": "bha"},
    "glycolic_acid": {"label": "Glycolic acid (AHA) toner", "kind": "aha"},
    "lactic_acid": {"label": "Lactic acid (AHA) serum", "kind": "aha"},
    "mandelic_acid": {"label": "Mandelic acid (AHA) serum", "kind": "aha"},
    "benzoyl_peroxide": {"label": "Benzoyl peroxide 2.5% gel", "kind": "benzoyl_peroxide"},
    "azelaic_acid": {"label": "Azelaic acid 10% cream", "kind": "azelaic_acid"},
    "niacinamide": {"label": "Niacinamide 5% serum", "kind": "niacinamide"},
    "vitamin_c": {"label": "Vitamin C serum", "kind": "vitamin_c"},
    "zinc": {"label": "Zinc PCA serum", "kind": "zinc"},
    "peptides": {"label": "Peptide serum", "kind": "peptide"},
    "caffeine": {"label": "Caffeine eye cream", "kind": "caffeine"},
    "centella": {"label": "Centella asiatica serum", "kind": "soothing"},
    "panthenol": {"label": "Panthenol (vitamin B5) serum", "kind": "soothing"},
    "ceramides": {"label": "Ceramide moisturiser", "kind": "barrier"},
    "hyaluronic_acid": {"label": "Hyaluronic acid serum", "kind": "hydrator"},
    "sunscreen_spf50": {"label": "Broad-spectrum sunscreen SPF 50", "kind": "sunscreen"},
}
RETINOID = "retinoid"
BENZOYL_PEROXIDE = "benzoyl_peroxide"
ACID_KINDS = frozenset({"aha", "bha"})
SUNSCREEN = "sunscreen"
# Kinds that support the skin rather than treat it: they need no one-at-a-time start.
SUPPORT_KINDS = frozenset({"barrier", "hydrator", "soothing", SUNSCREEN})

# Sensitivities a person may state that rule out kinds of active.
SENSITIVITY_KINDS: dict[str, frozenset[str]] = {
    "retinoids": frozenset({RETINOID}),
    "aha_bha": ACID_KINDS,
    "benzoyl_peroxide": frozenset({BENZOYL_PEROXIDE}),
    "vitamin_c": frozenset({"vitamin_c"}),
    "niacinamide": frozenset({"niacinamide"}),
}
# Sensitivities to ingredients of any product (not actives), in words.
INGREDIENT_SENSITIVITY_LABELS = {
    "fragrance": "fragrance",
    "essential_oils": "essential oils",
    "alcohol": "drying alcohol",
    "lanolin": "lanolin",
    "parabens": "parabens",
    "sulfates": "sulfates",
}
# Every sensitivity a profile may state (the choices of its ``sensitivities``).
SENSITIVITIES = (*INGREDIENT_SENSITIVITY_LABELS, *SENSITIVITY_KINDS)
# What a person may write in their ``allergies`` (free text) that names an active, beside
# its own name ("vitamin c", "azelaic acid"): its kind, the molecule's other names, and
# what cross-reacts with it (salicylates and aspirin); a molecule's name alone names it
# ("glycolic"). Reading too much leaves an active out, the safe side. The sunscreen has
# none: a plan always keeps one, and its filters are named by the allergy caution.
RETINOID_TERMS = (
    "retinoid",
    "retinoids",
    "vitamin a",
    "tretinoin",
    "retin a",
    "isotretinoin",
    "retinoic acid",
    "retinyl",
    "retinyl palmitate",
)
AHA_TERMS = (
    "aha",
    "ahas",
    "alpha hydroxy",
    "alpha hydroxy acid",
    "alpha hydroxy acids",
    "hydroxy acid",
    "hydroxy acids",
    "fruit acids",
)
ALLERGY_TERMS: dict[str, tuple[str, ...]] = {
    "adapalene": (*RETINOID_TERMS, "differin"),
    "retinol": RETINOID_TERMS,
    "retinal": (*RETINOID_TERMS, "retinaldehyde"),
    "salicylic_acid": (
        "salicylic",
        "bha",
        "bhas",
        "beta hydroxy",
        "beta hydroxy acid",
        "hydroxy acid",
        "hydroxy acids",
        "salicylate",
        "salicylates",
        "aspirin",
        "acetylsalicylic",
        "acetylsalicylic acid",
    ),
    "glycolic_acid": ("glycolic", *AHA_TERMS),
    "lactic_acid": ("lactic", *AHA_TERMS),
    "mandelic_acid": ("mandelic", *AHA_TERMS),
    "benzoyl_peroxide": ("benzoyl", "bpo"),
    "azelaic_acid": ("azelaic",),
    "niacinamide": ("nicotinamide", "vitamin b3", "vitamin b 3", "b3", "niacin"),
    "vitamin_c": (
        "vit c",
        "vitaminc",
        "ascorbic",
        "ascorbic acid",
        "l ascorbic acid",
        "ascorbyl",
        "ascorbate",
    ),
    "zinc": (),
    "peptides": ("peptide",),
    "caffeine": (),
    "centella": ("centella asiatica", "cica", "gotu kola", "madecassoside"),
    "panthenol": ("dexpanthenol", "vitamin b5", "vitamin b 5", "b5", "pantothenic acid"),
    "ceramides": ("ceramide",),
    "hyaluronic_acid": ("hyaluronic", "hyaluronate", "sodium hyaluronate", "hyaluronan"),
}
SENSITIVE_SKIN_AVOIDS = frozenset({"glycolic_acid"})  # the harshest AHA
PREGNANCY_AVOIDS_KINDS = frozenset({RETINOID})
PREGNANCY_PREFERS = ("azelaic_acid",)

# Candidates per concern (skincare.concerns), best first.
CONCERN_ACTIVES = {
    "acne": ("adapalene", "benzoyl_peroxide", "salicylic_acid", "azelaic_acid", "niacinamide"),
    "redness": ("azelaic_acid", "centella", "panthenol"),
    "pigmentation": ("vitamin_c", "azelaic_acid", "niacinamide"),
    "dryness": ("ceramides", "hyaluronic_acid", "panthenol"),
    "oiliness": ("niacinamide", "zinc", "salicylic_acid"),
    "pores": ("niacinamide", "salicylic_acid", "retinol"),
    "texture": ("lactic_acid", "mandelic_acid", "glycolic_acid", "retinol"),
    "wrinkles": ("retinol", "peptides", "vitamin_c"),
    "dark_circles": ("caffeine", "peptides"),
    "sensitivity": ("centella", "panthenol"),
}

# Kinds that never share a routine in a plan the rules build. The first three are unsafe
# together (a plan's safety check enforces them); the rest only irritate.
UNSAFE_PAIRS = (
    (RETINOID, BENZOYL_PEROXIDE),
    (RETINOID, "aha"),
    (RETINOID, "bha"),
)
CLASHING_KINDS = frozenset(
    frozenset(pair)
    for pair in (
        *UNSAFE_PAIRS,
        ("aha", "bha"),
        (BENZOYL_PEROXIDE, "aha"),
        (BENZOYL_PEROXIDE, "bha"),
        (BENZOYL_PEROXIDE, "vitamin_c"),
        ("vitamin_c", "aha"),
        ("vitamin_c", "bha"),
    )
)
# Kinds of which a plan holds one active at most (AHA and BHA count as one family).
FAMILIES = {"aha": "acid", "bha": "acid"}


def kind_of(active: str) -> str:
    return ACTIVES[active]["kind"]


def is_new_active(active: str) -> bool:
    """Whether an active treats (and so starts on its own week) rather than supports."""
    return kind_of(active) not in SUPPORT_KINDS


def avoided_kinds(sensitivities: Iterable[str]) -> frozenset[str]:
    """The kinds of active that stated sensitivities rule out."""
    kinds: set[str] = set()
    for sensitivity in sensitivities:
        kinds |= SENSITIVITY_KINDS.get(sensitivity, frozenset())
    return frozenset(kinds)


def excluded_kinds(sensitivities: Iterable[str], *, pregnant: bool) -> frozenset[str]:
    """The kinds of active a person must not be given: those their sensitivities rule
    out, and during a pregnancy or breastfeeding PREGNANCY_AVOIDS_KINDS."""
    kinds = avoided_kinds(sensitivities)
    return kinds | PREGNANCY_AVOIDS_KINDS if pregnant else kinds


def allergens(allergies: Iterable[str]) -> frozenset[str]:
    """The actives that a person's ``allergies`` (their own words) name: an allergy names
    an active when it holds the active's name or one of its ALLERGY_TERMS as whole words,
    whatever the case, accents or punctuation ("Vitamin-C serums", "salicylates")."""
    written = [f" {_words(allergy)} " for allergy in allergies]
    return frozenset(
        active
        for active, terms in _ALLERGY_WORDS.items()
        if any(term in allergy for term in terms for allergy in written)
    )


def _words(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).casefold()
    return " ".join(re.findall(r"[a-z0-9]+", folded))


# Each active's name and ALLERGY_TERMS as ``allergens`` looks for them: words between spaces.
_ALLERGY_WORDS = {
    active: tuple(f" {_words(term)} " for term in (active.replace("_", " "), *terms))
    for active, terms in ALLERGY_TERMS.items()
}


def clashes(kind: str, other: str) -> bool:
    return frozenset((kind, other)) in CLASHING_KINDS
