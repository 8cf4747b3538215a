"""Tests of guardrails/services."""
