"""Small classifier heads on fixed features, run in numpy, stored as safetensors + JSON (never pickle).

A head is: standardise (``mean``, ``scale``) → optional hidden layer (``w1``, ``b1``, ReLU) → logits
(``w``, ``b``) → softmax. ``<name>.safetensors`` holds the arrays; ``<name>.json`` holds ``classes`` and any
metadata (feature config, training data, measured accuracy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import JudgeError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["Head", "fit_head"]


@dataclass
class Head:
    """Arrays of a fitted head plus its metadata."""

    classes: list[str]
    arrays: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes)), columns in ``classes`` order."""
        import numpy as np

        a = self.arrays
        z = (np.asarray(x, dtype=np.float32) - a["mean"]) / a["scale"]
        if "w1" in a:
            z = np.maximum(z @ a["w1"].T + a["b1"], 0.0)
        logits = z @ a["w"].T + a["b"]
        if logits.shape[1] == 1:  # binary logistic: one logit for classes[1]
            p1 = 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0], -60.0, 60.0)))
            return np.stack([1.0 - p1, p1], axis=1)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, directory: str | Path, name: str) -> None:
        """Write ``<name>.safetensors`` and ``<name>.json`` into ``directory`` (atomically)."""
        import numpy as np
        from safetensors.numpy import save

        from aligngate.fileio import atomic_open, atomic_write_json

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        blob = save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.arrays.items()})
        with atomic_open(d / f"{name}.safetensors", "wb") as fh:
            fh.write(blob)
        atomic_write_json(d / f"{name}.json", {"classes": self.classes, **self.meta})
        for suffix in (".safetensors", ".json"):
            (d / f"{name}{suffix}").chmod(0o644)

    @classmethod
    def load(cls, directory: str | Path, name: str) -> Head:
        """Read a head written by :meth:`save`; raises :class:`JudgeError` when missing or malformed."""
        d = Path(directory)
        try:
            from safetensors.numpy import load_file

            arrays = load_file(str(d / f"{name}.safetensors"))
            meta = json.loads((d / f"{name}.json").read_text(encoding="utf-8"))
            classes = list(meta.pop("classes"))
        except Exception as exc:  # noqa: BLE001
            raise JudgeError(f"could not load judge head {d / name}: {exc}") from exc
        for key in ("mean", "scale", "w", "b"):
            if key not in arrays:
                raise JudgeError(f"judge head {d / name}: missing tensor {key!r}")
        return cls(classes=classes, arrays=arrays, meta=meta)


def fit_head(x: np.ndarray, y: list[str], classes: list[str], *, kind: str = "logreg", c: float = 1.0,
             hidden: int = 64, seed: int = 0, sample_weight: Any = None, boost: Any = None) -> Head:
    """Fit a head with scikit-learn (logistic regression, or a one-hidden-layer MLP) and export its arrays.

    ``boost`` (one factor per feature) multiplies standardised features, i.e. weakens their regularisation:
    a few strong hand-made features can then compete with hundreds of embedding dimensions."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    if boost is not None:
        scale = scale / np.asarray(boost, dtype=np.float64)
    z = (x - mean) / scale
    idx = {c_: i for i, c_ in enumerate(classes)}
    yi = np.array([idx[v] for v in y])
    arrays: dict[str, Any] = {"mean": mean, "scale": scale}
    if kind == "logreg":
        clf = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        clf.fit(z, yi, sample_weight=sample_weight)
        w, b = clf.coef_, clf.intercept_
        present = list(clf.classes_)
    elif kind == "mlp":
        clf = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1.0 / c, max_iter=600, random_state=seed,
                            early_stopping=False)
        clf.fit(z, yi)
        arrays["w1"], arrays["b1"] = clf.coefs_[0].T, clf.intercepts_[0]
        w, b = clf.coefs_[1].T, clf.intercepts_[1]
        present = list(clf.classes_)
    else:
        raise JudgeError(f"unknown head kind {kind!r} (logreg, mlp)")
    if len(present) != len(classes) and w.shape[0] != 1:
        raise JudgeError(f"training data lacks some classes: has {present}, needs {classes}")
    arrays["w"], arrays["b"] = np.atleast_2d(w), np.atleast_1d(b)
    return Head(classes=list(classes), arrays={k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()},
                meta={"kind": kind, "C": c})
