"""aligngate: a defensive alignment-regression gate for fine-tuned open-weight language models."""

__version__ = "0.1.0"
__all__ = ["__version__"]
