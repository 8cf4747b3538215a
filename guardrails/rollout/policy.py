"""What the state machine does after each judge round: wait, advance, complete or roll back.

Pure. The rules, in order: a broken endpoint or a rollback verdict rolls back; an endpoint that
SageMaker returned to the rollback target rolls back; an endpoint serving something unexpected
stops the rollout; past the maximum bake time an undecided rollout is rolled back ("stuck");
a native canary or linear update about to shift traffic the judge has not promoted at this
step is vetoed (rolled back; guardrails.rollout.schedule); only a "promote" verdict, after the
bake time, on an endpoint that is InService on the candidate's config, ever moves the rollout
forward. Missing data never does.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.rollout.state import RolloutError
from guardrails.services.sagemaker import EndpointView

WAIT = "wait"
ADVANCE = "advance"
COMPLETE = "complete"
ROLLBACK = "rollback"
_BROKEN = ("Failed", "UpdateRollbackFailed", "OutOfService", "Deleting")


@dataclass(frozen=True)
class NextAction:
    """The instruction for the state machine and why."""

    action: str
    reason: str
    stuck: bool = False


@dataclass(frozen=True, kw_only=True)
class Situation:
    """Everything the policy looks at after one judge round."""

    kind: str  # native, ab, shadow
    decision: str  # the judge's: rollback, continue, promote
    judge_reason: str
    endpoint: EndpointView
    previous_config: str
    candidate_config: str  # native: the new config; A/B and shadow: the trial config
    elapsed_seconds: float  # since the endpoint update started
    since_shift_seconds: float  # since the last traffic shift
    bake_time_seconds: int
    max_bake_time_seconds: int
    wait_interval_seconds: int  # between A/B traffic shifts
    at_last_step: bool  # A/B: the next shift would give the candidate everything
    veto: str = ""  # native canary/linear: why SageMaker's next shift must be stopped


def next_action(s: Situation) -> NextAction:
    """Apply the rules in the module docstring."""
    endpoint = s.endpoint
    if endpoint.status in _BROKEN:
        return NextAction(ROLLBACK, f"endpoint is {endpoint.describe()}")
    if s.decision == "rollback":
        return NextAction(ROLLBACK, f"judge: {s.judge_reason}")
    if endpoint.in_service and endpoint.config_name == s.previous_config:
        return NextAction(
            ROLLBACK,
            f"SageMaker returned the endpoint to {s.previous_config} by itself "
            "(a rollback alarm fired)",
        )
    if endpoint.in_service and endpoint.config_name != s.candidate_config:
        raise RolloutError(
            f"endpoint serves {endpoint.config_name}, neither the rollback target "
            f"{s.previous_config} nor the candidate {s.candidate_config}: someone else changed "
            "it; the rollout stops and leaves it as it is"
        )
    if s.elapsed_seconds >= s.max_bake_time_seconds:
        return NextAction(
            ROLLBACK,
            f"undecided after {s.elapsed_seconds:.0f} s (max_bake_time_seconds "
            f"{s.max_bake_time_seconds}); last verdict: {s.decision}: {s.judge_reason}",
            stuck=True,
        )
    if s.veto:
        return NextAction(ROLLBACK, f"{s.veto}; judge: {s.decision}: {s.judge_reason}")
    if not endpoint.in_service:
        return NextAction(WAIT, f"endpoint {endpoint.describe()}; judge: {s.decision}")
    if s.decision != "promote":
        return NextAction(WAIT, f"judge: {s.decision}: {s.judge_reason}")
    if s.kind == "ab" and s.since_shift_seconds < s.wait_interval_seconds:
        return NextAction(
            WAIT,
            f"no regression; this traffic step bakes {s.wait_interval_seconds} s "
            f"({s.since_shift_seconds:.0f} s so far)",
        )
    if s.kind == "ab" and not s.at_last_step:
        return NextAction(ADVANCE, "no regression at this traffic step: shifting more traffic")
    if s.elapsed_seconds < s.bake_time_seconds:
        return NextAction(
            WAIT,
            f"no regression; baking {s.bake_time_seconds} s before promotion "
            f"({s.elapsed_seconds:.0f} s so far)",
        )
    return NextAction(COMPLETE, f"promote: {s.judge_reason}")
