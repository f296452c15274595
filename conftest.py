"""The real `shared` package is imported before any test module: pytest's importlib import mode
names `shared/tests/test_x.py` as the module `shared.tests.test_x`, and if `shared` were not
imported yet it would stand in an empty module for it, and `shared.*` imports would fail when
only `shared/tests` is collected."""

import shared  # noqa: F401
