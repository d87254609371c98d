"""Prefect flows: thin wrappers over the stages (:mod:`aligngate.stages`), one flow per file.

Run locally with no server (Prefect starts a temporary one), or deploy with ``prefect deploy`` using
``prefect.yaml``. A blocked verdict ends the flow FAILED with the verdict in the message; the report,
a Markdown artifact and the exit code carry the pass / block / error distinction.
"""
