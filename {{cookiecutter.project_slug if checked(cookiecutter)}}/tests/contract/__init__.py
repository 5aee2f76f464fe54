"""Connector contract tests; see conftest.py."""
