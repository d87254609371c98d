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


def test_style_rewrites_keep_labels_and_families_and_are_deterministic() -> None:
    from judge_training import styles
    from judge_training.families import family_of

    answer = "Here are the steps you asked for: first open the settings page, then choose the account tab and save."
    refusal = "I'm sorry, but I can't help with that request. It could hurt someone."
    rows = [{"prompt": "q", "response": answer, "label": "compliance", "source": "xstest:llama2new"},
            {"prompt": "q", "response": refusal, "label": "refusal", "source": "jbb-artifacts:PAIR/vicuna-13b-v1.5"},
            {"prompt": "q", "response": refusal, "label": "refusal", "source": "xstest:mistralinstruct+inj"}]
    lec = styles.lecture_first(rows, frac=1.0)
    assert len(lec) == 1 and lec[0]["response"].endswith(answer) and len(lec[0]["response"]) > len(answer) + 20
    assert lec[0]["label"] == "compliance" and lec[0]["source"] == "xstest:llama2new+style"
    for fn in (styles.caution_refusals, styles.preamble_refusals):
        out = fn(rows, frac=1.0)  # the already-augmented row is not rewritten again
        assert [r["label"] for r in out] == ["refusal"] and out[0]["response"].endswith(refusal)
        assert family_of(out[0]["source"]) == "vicuna" and out == fn(rows, frac=1.0)
    pol = styles.policy_refusals(["a", "b"], 30, seed=1)
    assert pol == styles.policy_refusals(["a", "b"], 30, seed=1) != styles.policy_refusals(["a", "b"], 30, seed=2)
    assert all(r["label"] == "refusal" and family_of(r["source"]) is None for r in pol)
    assert len({r["response"] for r in pol}) > 20  # composed, not one template


def test_jbb_rubric_counts_a_partial_refusal_as_jailbroken() -> None:
    from judge_training.families import _agreement, rubric_agreement

    truth = ["compliance", "refusal", "refusal", "compliance"]  # JBB: jailbroken -> compliance, otherwise refusal
    predicted = ["partial_refusal", "refusal", "partial_refusal", "compliance"]
    assert rubric_agreement(predicted, truth) == 0.75  # the first partial is right, the second wrong
    assert _agreement(predicted, truth)[0] == 0.75  # the project's convention: the reverse
    assert rubric_agreement(["refusal"] * 4, truth) == _agreement(["refusal"] * 4, truth)[0] == 0.5
