"""Random-init models of real shapes, saved as the product loads them, for the GPU benches and ``tests/gpu``.

A model directory here is what a user's would be: safetensors weights, a config, and a tokenizer with a chat
template, so ``aligngate gate``/``eval``/``train`` run on it unchanged. The tokenizer is word-level over the
model's whole vocabulary (token ``i`` is the word ``w<i>``; the Llama-3 special ids are ``<s>``, ``</s>``,
``<pad>``), so every generated id decodes to a word and prompts of N random words are N tokens. Weights are
random (``torch.manual_seed``), LoRA adapters random with small ``B`` (the tuned model stays near its base).

Shapes: ``1b`` (Llama-3.2-1B: 1.24 B parameters, +0.26 B for an untied output head), ``8b`` (Llama-3.1-8B: 8.0 B),
``tiny`` (CPU rehearsal). The output head is never tied to the embeddings: a random model with tied ones predicts
the token it just read (``e.e`` beats every ``e.e'``), so it echoes one token to the end of its budget, which the
gate rightly counts as no output (measured on ``tiny``: 64 of 64 responses tied, 0 of 128 untied). Untying adds
parameters to load but no work per token (the logits matmul is the same size).
Not part of the installed package; the benches and ``tests/gpu`` put the repository root on ``sys.path``.
"""

from __future__ import annotations

import gc
import json
import random
import time
from pathlib import Path
from typing import Any

__all__ = ["CHAT_TEMPLATE", "SHAPES", "free_cuda", "llama_config", "make_base", "make_lora", "random_words",
           "word_tokenizer", "write_suite"]

VOCAB = 128256
BOS, EOS, PAD = 128000, 128001, 128004
SHAPES: dict[str, dict[str, Any]] = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, head_dim=64, tie_word_embeddings=False, vocab_size=VOCAB),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, head_dim=128, tie_word_embeddings=False, vocab_size=VOCAB),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, tie_word_embeddings=False, vocab_size=512),
}
CHAT_TEMPLATE = ("{% for message in messages %}{{ message['content'] + ' ' }}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '' }}{% endif %}")
"""The prompts' words, space-joined; no role markers (a random model has none to learn)."""


def special_ids(vocab: int) -> tuple[int, int, int]:
    """(bos, eos, pad) for a vocabulary: Llama-3's ids, or the last three ids of a small one."""
    return min(BOS, vocab - 3), min(EOS, vocab - 2), min(PAD, vocab - 1)


def llama_config(shape: str) -> Any:
    """A ``LlamaConfig`` of ``shape`` (Llama-3 rope theta, bf16 weights in the saved config)."""
    from transformers import LlamaConfig

    kw = dict(SHAPES[shape])
    bos, eos, pad = special_ids(kw["vocab_size"])
    return LlamaConfig(**kw, max_position_embeddings=4096, rope_theta=500000.0, rms_norm_eps=1e-5,
                       bos_token_id=bos, eos_token_id=eos, pad_token_id=pad, torch_dtype="bfloat16")


def word_tokenizer(vocab: int) -> Any:
    """A word-level tokenizer over ``vocab`` ids (``w<i>``; special ids named) with :data:`CHAT_TEMPLATE`."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    bos, eos, pad = special_ids(vocab)
    names = {bos: "<s>", eos: "</s>", pad: "<pad>", 0: "<unk>"}
    table = {names.get(i, f"w{i}"): i for i in range(vocab)}
    tok = Tokenizer(models.WordLevel(vocab=table, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                 unk_token="<unk>", model_max_length=4096)
    hf.chat_template = CHAT_TEMPLATE
    return hf


def free_cuda() -> None:
    """Collect garbage and give cached CUDA memory back."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _random_model(shape: str, device: str, seed: int) -> Any:
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            return LlamaForCausalLM(llama_config(shape))
    finally:
        torch.set_default_dtype(old)


def make_base(shape: str, out: Path, *, device: str, seed: int = 0) -> tuple[Path, float]:
    """Save a random-init model of ``shape`` with :func:`word_tokenizer` to ``out``; (out, seconds). Reused when
    ``out`` already holds one."""
    t0 = time.perf_counter()
    if (out / "config.json").is_file():
        return out, 0.0
    model = _random_model(shape, device, seed)
    model.save_pretrained(out)
    word_tokenizer(SHAPES[shape]["vocab_size"]).save_pretrained(out)
    del model
    free_cuda()
    return out, time.perf_counter() - t0


def make_lora(base: Path, out: Path, *, device: str, r: int = 16, b_scale: float = 0.05, seed: int = 0) -> Path:
    """Save a random LoRA (``r``, all linear layers, ``B`` scaled by ``b_scale``) on ``base`` to ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    if (out / "adapter_config.json").is_file():
        return out
    torch.manual_seed(seed)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, use_safetensors=True).to(device)
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear",
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.mul_(b_scale)
    peft_model.save_pretrained(out, safe_serialization=True)
    del peft_model, model
    free_cuda()
    return out


def random_words(n: int, vocab: int, lo: int, hi: int, seed: int) -> list[str]:
    """``n`` prompts of ``lo..hi`` random words ``w<i>`` (ids clear of the special ones)."""
    rng = random.Random(seed)
    top = special_ids(vocab)[0]
    return [" ".join(f"w{rng.randrange(10, top)}" for _ in range(rng.randint(lo, hi))) for _ in range(n)]


def write_suite(path: Path, prompts: list[str], expect: str) -> Path:
    """A JSONL suite file (``id``, ``prompt``, ``expect``) as ``aligngate`` policies name them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i, p in enumerate(prompts):
            f.write(json.dumps({"id": f"{path.stem}-{i:04d}", "prompt": p, "expect": expect}) + "\n")
    return path
