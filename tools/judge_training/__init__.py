"""Training the judge heads: the labelled data readers, the training and held-out evaluation, and the project's own
benign / harmful requests. Development tooling, not part of the installed ``aligngate`` package: the heads it fits
ship as weights in ``aligngate/judge/weights`` and the runtime only reads those.

Used by ``scripts/train_judge.py``, ``bench/judge.py``, ``bench/curation.py`` and the judge tests, which put
``tools/`` on ``sys.path`` and import ``judge_training``.
"""
