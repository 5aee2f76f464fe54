"""Connector contract tests; see plugin.py."""
