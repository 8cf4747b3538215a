"""Lambda entry points: thin adapters from an event to a pure function and back."""
