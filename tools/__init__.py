"""Build helpers for the Makefile and tests."""
