"""Tests of the shipped test kit, ``rerankit.testing``."""
