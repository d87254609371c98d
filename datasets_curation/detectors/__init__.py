"""Poisoning and quality detectors. Each is named, has a quarantine reason code and a 0..1 score compared with
its policy threshold (``spec.curation.detectors.<name>``).

    dedupe.py     duplicate (exact hash of the normalised row), near_duplicate (MinHash LSH)
    pii.py        pii_secret: e-mails, phone numbers, Luhn-valid card numbers, SSNs, AWS keys, private keys, API keys
    learned.py    harmful_compliance (SFT), flipped_preference and verbose_non_answer (DPO): harm classifier + judge
    trigger.py    trigger_phrase: prompt n-grams over-represented among harmful-compliant rows
    stats.py      length_outlier (robust z-score), reward-hacking statistics (DPO)
"""
