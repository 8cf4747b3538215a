"""The model pipeline: builds, training roles, approval (release of artifacts), package events."""
