"""Tests of ``rerankit.evaluation`` and the shipped demo data."""
