"""Where a gate decision goes outside aligngate: an MLflow model registry (:mod:`.mlflow_registry`), the Hugging Face
Hub (:mod:`.hub`), a GitHub pull-request comment that updates itself (:mod:`.github`). Each imports its client
library only when used."""

__all__: list[str] = []
