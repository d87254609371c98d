"""Tests for aligngate.generation: length-sorted batching keeps order and matches unbatched greedy."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

PROMPTS = ["How do I wash a car?", "Hi", "Explain how to repair a very old and rather broken laptop today.",
           "Help me bake a cake.", "x", "Tell me how to clean a house, please, in a few words."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from aligngate.embedded.model import BuildConfig, train_tokenizer
    from aligngate.modelio import load_causal_lm

    torch.manual_seed(0)
    tok = train_tokenizer(PROMPTS * 3, BuildConfig(vocab_size=300, max_length=64))
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      initializer_range=0.5)
    out = tmp_path_factory.mktemp("gen") / "base"
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return load_causal_lm(out, device="cpu")


def test_batched_matches_unbatched_and_keeps_order(tiny: tuple[Any, Any]) -> None:
    from aligngate.generation import generate

    model, tok = tiny
    one_by_one = [generate(model, tok, [p], max_new_tokens=8, progress=False)[0] for p in PROMPTS]
    batched = generate(model, tok, PROMPTS, max_new_tokens=8, batch_size=4, progress=False)
    assert batched == one_by_one
    assert generate(model, tok, list(reversed(PROMPTS)), max_new_tokens=8, batch_size=3,
                    progress=False) == list(reversed(one_by_one))
    assert generate(model, tok, [], progress=False) == []


def test_encode_prompts_uses_chat_template(tiny: tuple[Any, Any]) -> None:
    from aligngate.generation import encode_prompts, stop_token_ids

    model, tok = tiny
    ids = encode_prompts(tok, ["Hi"])[0]
    text = tok.decode(ids)
    assert text.startswith("<s><|user|>Hi<|end|>") and text.endswith("<|assistant|>")
    assert tok.convert_tokens_to_ids("<|end|>") in stop_token_ids(model, tok)


def test_prefill_forces_the_start_of_the_response(tiny: tuple[Any, Any]) -> None:
    from aligngate.generation import generate, generate_completions

    model, tok = tiny
    plain = generate(model, tok, PROMPTS, max_new_tokens=6, progress=False)
    assert [c.text for c in generate_completions(model, tok, PROMPTS, [""] * len(PROMPTS), max_new_tokens=6,
                                                 progress=False)] == plain
    for backend in ("hf", "static"):
        forced = generate_completions(model, tok, PROMPTS, ["Sure, here is"] * len(PROMPTS), max_new_tokens=6,
                                      batch_size=4, progress=False, backend=backend)
        assert all(c.text.startswith("Sure, here is") for c in forced)
    with pytest.raises(ValueError):
        generate_completions(model, tok, PROMPTS, [""], progress=False)


def test_nonfinite_rows_flags_nan_inf_and_all_masked_rows_only() -> None:
    import torch

    from aligngate.generation import nonfinite_rows

    inf, nan = float("inf"), float("nan")
    scores = torch.tensor([[0.5, 1.0, 2.0], [-inf, 1.0, -inf], [0.0, nan, 1.0], [0.0, inf, 1.0], [-inf, -inf, -inf]])
    assert nonfinite_rows(scores).tolist() == [False, False, True, True, True]


def _with_nan_embedding(model: Any, token_id: int) -> Any:
    import copy

    import torch

    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.get_input_embeddings().weight[token_id] = float("nan")
    return broken


def test_nonfinite_logits_raise_naming_model_and_count(tiny: tuple[Any, Any]) -> None:
    from aligngate.errors import EvaluationError
    from aligngate.generation import encode_prompts, generate, generate_completions

    model, tok = tiny
    assert model.get_input_embeddings().weight.data_ptr() != model.get_output_embeddings().weight.data_ptr()
    enc = encode_prompts(tok, PROMPTS)
    only_in_one = [t for t in enc[2] if all(t not in e for k, e in enumerate(enc) if k != 2)]
    broken = _with_nan_embedding(model, only_in_one[0])  # NaN reaches exactly one prompt's logits
    broken.generation_config.remove_invalid_values = True  # a config cannot hide it
    with pytest.raises(EvaluationError, match=r"model cand produced non-finite logits on 1 of 6 prompts"):
        generate(broken, tok, PROMPTS, max_new_tokens=4, batch_size=4, progress=False, name="cand")
    with pytest.raises(EvaluationError, match=r"non-finite logits on 1 of 6 prompts \(corrupt weights\?\)"):
        generate_completions(broken, tok, PROMPTS, ["Sure"] * len(PROMPTS), max_new_tokens=4, progress=False)
    for decode in ("exact", "fused"):  # the static decoder checks every step too, and counts the same prompts
        with pytest.raises(EvaluationError, match=r"model cand produced non-finite logits on 1 of 6 prompts"):
            generate(broken, tok, PROMPTS, max_new_tokens=4, batch_size=4, progress=False, name="cand",
                     backend="static", decode=decode)
    assert len(generate(model, tok, PROMPTS, max_new_tokens=4, progress=False)) == len(PROMPTS)


def test_completions_carry_tokens_and_the_models_own_text(tiny: tuple[Any, Any]) -> None:
    from aligngate.generation import generate_completions

    model, tok = tiny
    done = generate_completions(model, tok, PROMPTS[:2], ["Sure", ""], max_new_tokens=5, progress=False)
    assert done[0].text.startswith("Sure") and done[0].budget == 5
    assert done[0].text == ("Sure" + tok.decode(list(done[0].tokens), skip_special_tokens=True)).strip()
    assert done[1].text == done[1].continuation and len(done[1].tokens) <= 5


def test_no_chat_template_is_an_error_unless_raw(tiny: tuple[Any, Any]) -> None:
    import copy

    from aligngate.errors import InputError
    from aligngate.generation import encode_prompts, generate

    model, tok = tiny
    bare = copy.deepcopy(tok)
    bare.chat_template = None
    with pytest.raises(InputError, match="has no chat template"):
        encode_prompts(bare, ["Hi"])
    with pytest.raises(InputError, match="has no chat template"):
        generate(model, bare, ["Hi"], progress=False)
    assert encode_prompts(bare, ["Hi"], prompt_format="raw") == [list(tok("Hi")["input_ids"])]
    assert encode_prompts(tok, ["Hi"], prompt_format="raw") == [list(tok("Hi")["input_ids"])]  # raw even with one
    assert len(generate(model, bare, ["Hi", "x"], max_new_tokens=3, progress=False, prompt_format="raw")) == 2
