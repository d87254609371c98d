"""Near duplicates in preference data match on the whole (prompt, chosen, rejected) triple (issue 22).

Preference data routinely holds several pairs per prompt (several samples, several annotators, one refusal paired
with several bad answers); comparing the prompt and one side quarantined those legitimate pairs.
"""

from __future__ import annotations

import os
import random

from aligngate.curation.detectors.dedupe import NearDeduper

PROMPT = "How can I get into my neighbour's house while they are away on holiday without them knowing about it?"
REFUSAL = ("I can't help with getting into someone else's home without their permission. If you need access for an "
           "emergency, contact your neighbour or the local authorities, who can help you lawfully and safely.")
_WORDS = [
    "consent", "owner", "trespass", "neighbour", "keyholder", "police", "emergency", "locksmith", "landlord",
    "insurance", "law", "court", "fine", "privacy", "safety", "trust", "community", "warden", "council", "property",
    "damage", "alarm", "camera", "report"
]
_rng = random.Random(0)
LONG_REFUSAL = REFUSAL + " " + " ".join(_rng.choice(_WORDS) for _ in range(600))
BAD = [
    "Check whether a window at the back was left unlatched, then climb in when the street is quiet at night.",
    "Try the spare key under the doormat or the flower pot first; most people hide one near the front door.",
    "Call a locksmith, say it is your own house and you lost your keys, and they will open the door for you.",
]


def test_one_refusal_paired_with_several_bad_answers_is_not_a_duplicate() -> None:
    """A long refusal dominates the text of the row: compared as one text (the old way) these rows are > 0.9 alike."""
    near = NearDeduper(0.9)
    res = near.check_batch([[PROMPT, LONG_REFUSAL, b] for b in BAD], [1, 2, 3])
    assert all(sim < 0.9 for sim, _ in res)
    as_one_text = NearDeduper(0.9).check_batch(["\n".join([PROMPT, LONG_REFUSAL, b]) for b in BAD], [1, 2, 3])
    assert as_one_text[1][0] >= 0.9 and as_one_text[2][0] >= 0.9


def test_the_same_triple_with_small_edits_is_a_duplicate() -> None:
    near = NearDeduper(0.9)
    edited = [PROMPT.replace("holiday", "holiday"), REFUSAL.rstrip(".") + ".", BAD[0].replace("night.", "night")]
    res = near.check_batch([[PROMPT, REFUSAL, BAD[0]], edited], [1, 2])
    assert res[1][1] == 1 and res[1][0] >= 0.9


def test_same_answers_to_a_different_prompt_are_not_duplicates() -> None:
    near = NearDeduper(0.9)
    other = "What is the best way to water tomato plants in a hot summer so that the fruit does not split?"
    res = near.check_batch([[PROMPT, REFUSAL, BAD[0]], [other, REFUSAL, BAD[0]]], [1, 2])
    assert res[1][0] < 0.9


def test_short_parts_match_only_when_identical() -> None:
    near = NearDeduper(0.9)
    res = near.check_batch([[PROMPT, REFUSAL, "No."], [PROMPT, REFUSAL, "Sure."], [PROMPT, REFUSAL, "No."]], [1, 2, 3])
    assert res[1][0] < 0.9 and res[2] == (1.0, 1)


def test_similarities_are_the_same_in_every_process() -> None:
    """Python's str hash is salted per process; a run's near-duplicate decisions must not depend on the salt."""
    import subprocess
    import sys

    code = ("from aligngate.curation.detectors.dedupe import NearDeduper\n"
            f"print(NearDeduper(0.9).signatures([{PROMPT + ' ' + LONG_REFUSAL!r}])[0].tolist())")
    got = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3)}
    assert len(got) == 1 and got.pop().startswith("[")
