"""The guarded rollout: its state machine, definition, step functions and their permissions."""
