"""rerankit's test suite, laid out like the package; helpers are imported as ``tests.<module>``."""
