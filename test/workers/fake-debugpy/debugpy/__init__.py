"""A stand-in for debugpy in the tests (the real one is not installed there): see __main__.py."""
