"""Tests of guardrails/cli."""
