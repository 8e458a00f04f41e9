"""The skin-care vocabulary every part of DermaLens shares and no part owns.

    from skincare.metrics import METRICS, band_for
    from skincare.actives import ACTIVES, avoided_kinds, kind_of

Plain data and pure functions, no I/O: ``metrics`` (what an analysis scores, its bands,
where a score came from), ``concerns`` (what a person may want to treat and which metric
speaks to it), ``actives`` (the ingredients a plan may use, their kinds, what rules them
out and which clash), ``routines`` (the parts and limits of a treatment plan). The ``ai``,
``plans``, ``chat`` and ``accounts`` apps import it; it imports nothing of ours, so
none of them has to import another for a word they share.
"""
