"""Tests of the ``rerankit`` command."""
