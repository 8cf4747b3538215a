"""Tests of guardrails/rollout."""
