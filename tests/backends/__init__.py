"""Tests of the backends: local, embedding and remote."""
