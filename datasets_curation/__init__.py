"""Tuning-data curation: readers, Great Expectations suites, poisoning detectors, quarantine."""
