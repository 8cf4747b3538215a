"""The model pipeline: builds, training roles, approval, release state machine, package events."""
