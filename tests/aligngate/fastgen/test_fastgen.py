"""aligngate.fastgen and aligngate.training.autoconfig: the backend choice, and the static decode loop matches the
stock path; bench/gpu.py --smoke runs; GPU checks are marked ``gpu`` and skipped without CUDA."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[3]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _tiny_llama(seed: int = 0, device: str = "cpu", dtype: object = None) -> object:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=None, eos_token_id=1, pad_token_id=0)
    cfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(cfg).eval().to(device)
    return model.to(dtype) if dtype is not None else model


def _tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{f"w{i}": i + 3 for i in range(125)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    return fast


def _prompts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(f"w{rng.randrange(125)}" for _ in range(rng.randint(2, 14))) for _ in range(n)]


def _ids(n: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(3, 128) for _ in range(rng.randint(2, 20))] for _ in range(n)]


def _gen_ids(model: object, enc: list[list[int]], backend: str, decode: str = "exact", **kw: object) -> list[list[int]]:
    from aligngate.generation import generate_ids

    return [list(r) for r in generate_ids(model, enc, backend=backend, decode=decode, **kw)]  # type: ignore[arg-type]


def test_backend_choice_and_text_equal_to_stock_on_cpu() -> None:
    from aligngate.errors import InputError
    from aligngate.fastgen import choose_backend
    from aligngate.generation import generate

    model, tok = _tiny_llama(), _tokenizer()
    assert choose_backend(model) == ("hf", "auto: not on CUDA")
    assert choose_backend(model, "static")[0] == "static" and choose_backend(model, "hf")[0] == "hf"
    prompts = _prompts(9)
    stock = generate(model, tok, prompts, max_new_tokens=10, batch_size=4, progress=False)
    for decode in ("exact", "fused"):  # the static decode loop itself (eager on CPU) gives the same text
        assert generate(model, tok, prompts, max_new_tokens=10, batch_size=4, progress=False, backend="static",
                        decode=decode) == stock
    assert generate(model, tok, prompts, max_new_tokens=10, batch_size=4, progress=False, backend="auto") == stock

    class Other:
        config = type("C", (), {"model_type": "gpt2"})()

    assert choose_backend(Other(), "auto") == ("hf", "auto: model_type 'gpt2' is not one of ('llama', 'mistral', "
                                                     "'qwen2')")
    with pytest.raises(InputError, match=r"backend: static cannot run model gpt2-model: model_type 'gpt2'"):
        choose_backend(Other(), "static", name="gpt2-model")


@pytest.mark.parametrize("decode", ["exact", "fused"])
def test_static_decoder_matches_stock_greedy_ids(decode: str) -> None:
    model = _tiny_llama(1)
    enc = _ids(11, seed=1)
    for stops in ([1], list(range(40, 70))):  # rare stop, and frequent stops (early per-row / batch stop)
        kw = dict(max_new_tokens=12, batch_size=4, stop_ids=stops, pad_id=0)
        ref = _gen_ids(model, enc, "hf", **kw)
        assert _gen_ids(model, enc, "static", decode, **kw) == ref
        assert any(len(r) < 12 for r in ref) and not any(set(r) & set(stops) for r in ref)  # cut before the stop


def test_exact_mode_is_token_identical_in_bf16() -> None:
    """bf16 makes rounding visible: the exact mode (attention over exactly the keys so far, transformers' own
    SDPA call) reproduces the stock tokens."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(5)
    cfg = LlamaConfig(vocab_size=2048, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=256)
    cfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(cfg).eval().to(torch.bfloat16)
    rng = random.Random(5)
    enc = [[rng.randrange(3, 2048) for _ in range(rng.randint(8, 40))] for _ in range(12)]
    kw = dict(max_new_tokens=24, batch_size=6, stop_ids=[2], pad_id=0)
    assert _gen_ids(model, enc, "static", "exact", **kw) == _gen_ids(model, enc, "hf", **kw)


def test_merged_adapter_runs_static_and_unmerged_stays_on_stock() -> None:
    from peft import LoraConfig, get_peft_model

    from aligngate.errors import InputError
    from aligngate.fastgen import choose_backend

    model = _tiny_llama(2)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    enc = _ids(6, seed=2)
    kw = dict(max_new_tokens=8, batch_size=3, stop_ids=[1], pad_id=0)
    ref = _gen_ids(peft_model, enc, "hf", **kw)
    assert choose_backend(peft_model, "auto")[0] == "hf"  # unmerged LoRA layers are not plain Linear
    assert choose_backend(peft_model.get_base_model(), "auto")[0] == "hf"
    with pytest.raises(InputError, match="not a plain"):
        _gen_ids(peft_model, enc, "static", **kw)
    merged = peft_model.merge_and_unload()
    assert type(merged).__name__ == "LlamaForCausalLM"
    assert _gen_ids(merged, enc, "static", **kw) == ref


def test_generation_config_processors_keep_the_stock_path() -> None:
    """Stock greedy generate applies e.g. a repetition penalty from the model's generation config; the static
    decoder does not, so such a model stays on stock (auto) or is refused (static)."""
    from aligngate.errors import InputError
    from aligngate.fastgen import choose_backend

    model = _tiny_llama(6)
    model.generation_config.repetition_penalty = 1.3
    assert choose_backend(model)[1] == ("auto: generation_config sets repetition_penalty=1.3 (a logits processor "
                                        "the static decoder lacks)")
    with pytest.raises(InputError, match="repetition_penalty"):
        choose_backend(model, "static")
    model.generation_config.repetition_penalty = 1.0
    assert choose_backend(model, "static")[0] == "static"


@pytest.mark.parametrize("backend", ["hf", "static"])
def test_nonfinite_logits_raise_on_both_paths(backend: str) -> None:
    from aligngate.errors import EvaluationError

    model = _tiny_llama(7)
    with torch.no_grad():
        model.lm_head.weight[5, 0] = float("nan")  # one vocabulary row: every logits row holds a NaN
    enc = _ids(5, seed=7)
    with pytest.raises(EvaluationError, match=r"model tiny produced non-finite logits on 5 of 5 prompts"):
        _gen_ids(model, enc, backend, max_new_tokens=6, batch_size=2, stop_ids=[1], pad_id=0, name="tiny")


def test_autoconfig_choices() -> None:
    from transformers import LlamaConfig

    from aligngate.training import autoconfig as ac

    one_b = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, vocab_size=128256,
                        tie_word_embeddings=True)
    feats = {"flash_attn": False, "liger_kernel": True}
    fast = ac.fast_training_kwargs(one_b, 80 * 2**30, "sft", features=feats)
    assert fast["args"]["padding_free"] and fast["args"]["gradient_checkpointing"] is False
    assert fast["model_init_kwargs"]["attn_implementation"] == ac.VARLEN_ATTENTION
    assert "use_liger_kernel" not in fast["args"]  # measured slower: opt-in only
    liger = ac.fast_training_kwargs(one_b, 80 * 2**30, "sft", features=feats, prefer_liger=True)
    assert liger["args"]["use_liger_kernel"]
    low = ac.fast_training_kwargs(one_b, 80 * 2**30, "sft", features=feats, memory_budget_bytes=5 * 2**30)
    assert low["args"]["gradient_checkpointing"] is True
    fa = ac.fast_training_kwargs(one_b, 80 * 2**30, "dpo", features={"flash_attn": True, "liger_kernel": False})
    assert fa["model_init_kwargs"]["attn_implementation"] == "flash_attention_2" and "padding_free" not in fa["args"]
    with pytest.raises(ValueError):
        ac.fast_training_kwargs(one_b, 80 * 2**30, "ppo")


def test_varlen_attention_matches_per_sequence_sdpa() -> None:
    from aligngate.training.autoconfig import register_varlen_attention

    name = register_varlen_attention()
    model = _tiny_llama(3).float()
    seqs = [torch.randint(3, 128, (n,)) for n in (5, 9, 3)]
    with torch.no_grad():
        ref = torch.cat([model(input_ids=s[None]).logits[0] for s in seqs])
        model.set_attn_implementation(name)
        flat = torch.cat(seqs)[None]
        pos = torch.cat([torch.arange(len(s)) for s in seqs])[None]
        out = model(input_ids=flat, position_ids=pos).logits[0]
    assert torch.allclose(out, ref, atol=1e-5)


def test_bench_smoke_runs_under_a_minute(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    out = tmp_path / "smoke.md"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--smoke", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "greedy identity" in text and "time-to-verdict" in text
    assert time.perf_counter() - t0 < 120  # < 60 s on an idle 2-core runner; slack for a loaded one


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("exact", [True, False])
def test_gpu_graphs_match_eager_and_stock(exact: bool) -> None:
    from aligngate.fastgen.decode import StaticDecoder
    from aligngate.generation import left_pad

    model = _tiny_llama(4, device="cuda", dtype=torch.bfloat16)
    enc = _ids(40, seed=4)
    kw = dict(max_new_tokens=16, batch_size=16, stop_ids=[1], pad_id=0)
    ref = _gen_ids(model, enc, "hf", **kw)
    graphs = _gen_ids(model, enc, "static", "exact" if exact else "fused", **kw)
    batch = sorted(enc, key=len, reverse=True)[:16]
    ids, mask = left_pad(batch, 0, "cuda")
    rows = {}
    for use_graphs in (True, False):
        dec = StaticDecoder(model, max_batch=16, max_len=40, max_new_tokens=16, stop_ids=(1,), exact=exact,
                            use_graphs=use_graphs)
        rows[use_graphs], bad = dec.generate_batch(ids, mask)
        assert not any(bad)

    def rate(x: list[list[int]], y: list[list[int]]) -> float:
        return sum(a == b for a, b in zip(x, y, strict=True)) / len(y)

    # bf16 on GPU: rare near-tie flips allowed (GEMM algorithms may differ under capture); the bench reports rates
    assert rate(graphs, ref) >= 0.9 and rate(rows[True], rows[False]) >= 0.9
