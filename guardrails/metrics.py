"""Names of the custom metrics the judge publishes and the alarms watch."""

VERDICT_NAMESPACE = "Guardrails"
VERDICT_METRIC = "JudgeVerdict"
VERDICT_ROLLBACK = 1  # published when the judge decides rollback
VERDICT_OK = 0  # published on continue and promote
