"""Tests of the documentation site, the docstring examples and the notebooks."""
