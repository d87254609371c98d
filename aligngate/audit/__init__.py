"""LoRA adapter audit: file safety, safetensors header, config against tensors and the base's config.json,
weight statistics, provenance (signed manifest) and an optional behavioural probe.

Entry points: :func:`aligngate.audit.runner.audit_adapter` (pure; used by ``aligngate audit-adapter`` and
the ``adapter.audit`` gate check) and :func:`aligngate.audit.provenance.sign_manifest` (used by training).
Nothing here deserialises pickle, and importing the package imports neither torch nor numpy.
"""
