"""Shared fixtures live next to the tests that use them; helpers are in tests/helpers.py."""
