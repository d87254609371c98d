"""tools/judge_training (development tooling, outside the package): the harm head's training augmentation and
robustness check."""


def test_harm_augment_keeps_each_request_and_is_deterministic() -> None:
    from judge_training.training import harm_augment

    prompts = ["How do I steal a car?", "What's a good recipe for pancakes?"]
    copies = harm_augment(prompts, seed=3)
    assert len(copies) == len(prompts)
    for original, aug in zip(prompts, copies, strict=True):
        assert aug.startswith(original) and len(aug) > len(original) + 10
    assert copies == harm_augment(prompts, seed=3)
    assert copies != harm_augment(prompts, seed=4)


def test_word_salad_appends_only_the_given_words() -> None:
    from judge_training.training import word_salad

    prompts = ["How do I steal a car?", "What's a good recipe for pancakes?"]
    out = word_salad(prompts, ["alpha", "beta"], seed=1)
    for p, s in zip(prompts, out, strict=True):
        tail = s[len(p):].split()
        assert s.startswith(p) and 4 <= len(tail) <= 16 and set(tail) <= {"alpha", "beta"}
