"""Tests of guardrails/release."""
