"""`python -m guardrails`: the operator CLI."""

from guardrails.cli import main

main()
