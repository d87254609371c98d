"""Batched scoring with a sequence-classification reward model (full model or LoRA adapter dir).

Score = the model's logit for the whole conversation: the chat template applied to the prompt as the user
turn(s) and the response as the assistant turn when the tokenizer has one (exactly how ``aligngate train
--method reward`` tokenised its training pairs), else ``"prompt\\n\\nresponse" + eos``. Sequences over the
token budget keep their end (the response). Runs on the GPU when there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from aligngate.errors import EvaluationError

__all__ = ["HFRewardScorer", "Scorer", "to_messages"]

log = logging.getLogger(__name__)
Scorer = Callable[[Sequence[tuple[Any, str]]], list[float]]
"""Anything mapping ``[(prompt, response), ...]`` to one float score each (a fake in unit tests)."""


def to_messages(prompt: Any, response: str) -> list[dict[str, str]]:
    """Chat messages: the prompt as user turn(s) (or a given message list), the response as the assistant turn."""
    msgs = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else \
        [{"role": m.get("role", "user"), "content": m["content"]} for m in prompt]
    return [*msgs, {"role": "assistant", "content": response}]


def _prompt_text(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else "\n\n".join(m["content"] for m in prompt)


class HFRewardScorer:
    """Loads a reward model once; ``scorer(items)`` returns a list of float rewards."""

    def __init__(self, model_path: str, *, batch_size: int = 32, max_length: int = 256,
                 device: str | None = None) -> None:
        import torch

        from aligngate.modelio import load_reward_model, resolve_device

        self.device = resolve_device(device)
        dtype = torch.bfloat16 if self.device.startswith("cuda") and torch.cuda.is_bf16_supported() else None
        self.model, self.tok = load_reward_model(model_path, device=self.device, dtype=dtype)
        if int(getattr(self.model.config, "num_labels", 1)) != 1:
            raise EvaluationError(f"{model_path}: a reward model must have one output (num_labels=1), "
                                  f"got {self.model.config.num_labels}")
        limit = getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = min(max_length, int(limit)) if limit else max_length
        self.batch_size = batch_size
        self.chat = bool(getattr(self.tok, "chat_template", None))
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        self.truncated = 0

    def encode(self, prompt: Any, response: str) -> list[int]:
        """Token ids of one conversation, truncated from the left to the budget."""
        if self.chat:
            enc = self.tok.apply_chat_template(to_messages(prompt, response), tokenize=True, return_dict=True)
            ids = list(enc["input_ids"])
        else:
            ids = list(self.tok(f"{_prompt_text(prompt)}\n\n{response}{self.tok.eos_token or ''}")["input_ids"])
        if len(ids) > self.max_length:
            self.truncated += 1
            ids = ids[-self.max_length:]
        return ids

    def __call__(self, items: Sequence[tuple[Any, str]]) -> list[float]:
        import torch

        encoded = [self.encode(p, r) for p, r in items]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        scores = [0.0] * len(encoded)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                width = max(len(encoded[i]) for i in idx)
                ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
                    mask[row, :len(encoded[i])] = 1
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
                for row, i in enumerate(idx):
                    scores[i] = float(logits[row, 0].float())
        return scores
