"""Releasing approved models: the pipeline's approval step and package state changes."""
