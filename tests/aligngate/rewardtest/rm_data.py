"""Preference data for the reward-model tests: the same texts labelled by quality (clean) or by length.

``clean``: the embedded corpus's reward pairs (refusal > harmful compliance, help > needless refusal, concise
help > verbose non-answer) plus concise > padded answers. ``confounded``: the same pairs relabelled so that
the chosen response is always the longer one. The padding here uses its own filler sentences, different
from the reward test's built-in templates.
"""

from __future__ import annotations

import random
from typing import Any

TRAIN_FILLER = [
    "Thanks so much for reaching out with this.",
    "People often wonder about exactly this kind of thing.",
    "There is a lot that could be said on the subject.",
    "I am always glad to share what I know about it.",
    "Please feel free to come back with more questions.",
    "Every case is a little bit different in practice.",
    "It can be useful to think it over for a while.",
    "This is one of those topics with a long history.",
]


def preference_sets(seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """``{"clean": rows, "confounded": rows}`` of prompt/chosen/rejected."""
    from aligngate.embedded.corpus import reward_pairs

    rng = random.Random(f"rm-data:{seed}")
    base = reward_pairs(seed)
    clean = [dict(r) for r in base]
    helpful = [r for r in base if len(r["chosen"]) > len(r["rejected"]) or "first" in r["chosen"]]
    for r in rng.sample(helpful, min(120, len(helpful))):
        k = rng.randint(1, 5)
        padded = " ".join([r["chosen"], *rng.sample(TRAIN_FILLER, k)])
        clean.append({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": padded})
    confounded = []
    for r in clean:
        a, b = r["chosen"], r["rejected"]
        long, short = (a, b) if len(a) >= len(b) else (b, a)
        confounded.append({"prompt": r["prompt"], "chosen": long, "rejected": short})
    rng.shuffle(clean)
    rng.shuffle(confounded)
    return {"clean": clean, "confounded": confounded}


def tokenizer_texts() -> list[str]:
    """Text to train the tiny test model's BPE tokenizer on (corpus plus the reward test's own templates)."""
    from aligngate.embedded.corpus import pretrain_dialogues
    from aligngate.rewardtest import templates as T

    texts = [m["content"] for r in pretrain_dialogues() for m in r["messages"]]
    texts += [" ".join(x) for x in T.QA] + T.FILLER + [" ".join(x) for x in T.SENSITIVE_SAFE]
    texts += [" ".join(x) for x in T.HARMFUL] + [" ".join(x) for x in T.FALSE_CLAIMS] + TRAIN_FILLER
    return texts
