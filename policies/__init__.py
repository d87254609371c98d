"""The packaged gate policies (``aligngate.policies``): ``default.yaml``, ``strict.yaml`` and their JSON Schema.

Read them with :func:`aligngate.policy.packaged_policy` (``importlib.resources``), so an installed wheel finds its
own default policy. This folder holds data only; the policy model lives in :mod:`aligngate.policy`.
"""
