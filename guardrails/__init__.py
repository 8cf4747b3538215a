"""SageMaker Deployment Guardrails runtime: judge, statistics, Lambda handlers and CLI."""
