"""Fixtures of the CLI tests: the deployed prod environment (see world.py)."""

from tests.unit.cli.world import promoted, world

__all__ = ["promoted", "world"]
