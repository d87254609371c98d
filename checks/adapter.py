"""Placeholder until the owning module lands."""
