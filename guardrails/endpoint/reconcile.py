"""What a `cdk deploy` of the endpoint stack does to the endpoint. Pure.

The endpoint stack's custom resource (infra/environment/endpoint_reconciler.py) hands its
handler the serving model (the SSM parameter CloudFormation resolved) and the configured
endpoint shape on every Create, Update and Delete. CloudFormation never chooses the model: it
only asks for the shape it was given to be served, through the same guarded rollout a new
model takes. `decide` applies these rules, in order:

* Delete: a rollout holding the lock keeps the endpoint (left to it); no endpoint: nothing; in
  production the endpoint outlives its stack (kept); elsewhere it is deleted.
* A rollout holds the lock (an unexpired lease): the endpoint is left to it, and on-call is
  told. A no-op rather than a refusal: a refused update fails the stack, and CloudFormation's
  rollback would call this again with the old properties, just as the rollout holds the lock.
* No model yet (no rollout has written the parameter): nothing; there is no endpoint until the
  first approved model's rollout creates it.
* No endpoint, but a serving model: its rollout recreates it (a first deploy, in this shape).
* The endpoint serves another config than the parameter names, or is not InService, or the
  change renames the variant: nothing, and on-call is told why (held).
* The endpoint serves the serving model in the configured shape: nothing.
* The shape changed (instance type, data capture, autoscaling bounds or set point): start the
  rollout with the serving package and the new shape, and return at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from guardrails import records
from guardrails.rollout.serving import ServingModel
from guardrails.rollout.settings import EndpointSettings
from guardrails.services.autoscaling import VariantScaling
from guardrails.services.sagemaker import EndpointView

CREATE, UPDATE, DELETE = "Create", "Update", "Delete"
REQUEST_TYPES = (CREATE, UPDATE, DELETE)

NOTHING = "nothing"
LEFT_TO_ROLLOUT = "left_to_rollout"
HELD = "held"
RESHAPE = "reshape"
REMOVE = "delete"
KEEP = "keep"
STARTED_BY = "cloudformation"


@dataclass(frozen=True, kw_only=True)
class EndpointFacts:
    """What the handler found, for `decide`."""

    request_type: str  # Create, Update or Delete
    endpoint_name: str
    production: bool
    serving: ServingModel | None  # None on Delete (not read)
    shape: EndpointSettings | None  # None on Delete (not read)
    endpoint: EndpointView | None  # None: there is no endpoint
    live_config: Mapping[str, Any] | None  # DescribeEndpointConfig of the endpoint's config
    scaling: VariantScaling | None  # the production variant's autoscaling registration
    lock: Mapping[str, Any] | None  # the endpoint's lock item
    now: datetime


@dataclass(frozen=True)
class Decision:
    """What to do, and the reason CloudFormation, the record and on-call are given."""

    action: str
    reason: str
    holder: str = ""  # LEFT_TO_ROLLOUT: the rollout holding the lock
    differences: tuple[str, ...] = ()  # RESHAPE: what changed


def decide(facts: EndpointFacts) -> Decision:
    """Apply the rules in the module docstring."""
    name = facts.endpoint_name
    endpoint = facts.endpoint
    lock = facts.lock
    if lock and not records.lock_expired(dict(lock), facts.now):
        holder = str(lock.get("deployment_id", ""))
        return Decision(
            LEFT_TO_ROLLOUT,
            f"rollout {holder} holds the lock on {name} (lease until "
            f"{records.lock_expiry(dict(lock)) or 'released'}): CloudFormation left the endpoint "
            "to it; deploy again once it has ended",
            holder=holder,
        )
    if facts.request_type == DELETE:
        if endpoint is None:
            return Decision(NOTHING, f"endpoint {name} does not exist: nothing to delete")
        if facts.production:
            return Decision(
                KEEP,
                f"production: endpoint {name} outlives its stack; delete it by hand if that "
                "is meant",
            )
        return Decision(REMOVE, f"endpoint {name} is deleted with its stack (not production)")
    serving, shape = facts.serving, facts.shape
    assert serving is not None and shape is not None
    if not serving.has_model:
        if endpoint is None:
            return Decision(
                NOTHING,
                "no model serves yet: the first approved model's rollout creates the endpoint",
            )
        return Decision(
            NOTHING,
            f"endpoint {name} exists, but no rollout has recorded what it serves: left as it is",
        )
    if not serving.model_package_arn:
        return Decision(
            HELD,
            f"the serving model names config {serving.endpoint_config} but not its model "
            "package: CloudFormation cannot ask for a rollout of it",
        )
    if endpoint is None:
        return Decision(
            RESHAPE,
            f"endpoint {name} does not exist: the serving model {serving.model_package_arn} "
            "is rolled out again, as a first deploy",
            differences=("no endpoint",),
        )
    if endpoint.config_name != serving.endpoint_config:
        return Decision(
            HELD,
            f"endpoint {name} serves {endpoint.config_name}, not the serving model's "
            f"{serving.endpoint_config} (rolled back or changed outside a rollout?): left as "
            "it is",
        )
    differences = tuple(shape_differences(shape, facts.live_config or {}, facts.scaling))
    if not differences:
        return Decision(NOTHING, f"endpoint {name} serves {serving.endpoint_config} as configured")
    if any(d.startswith("variant ") for d in differences):
        return Decision(
            HELD,
            f"{'; '.join(differences)}: SageMaker's guarded updates keep variant names, so "
            "this needs a new endpoint",
        )
    if not endpoint.in_service:
        return Decision(
            HELD,
            f"endpoint {name} is {endpoint.describe()}; the shape change "
            f"({'; '.join(differences)}) waits for the next deploy",
        )
    return Decision(
        RESHAPE,
        f"the endpoint shape changed ({'; '.join(differences)}): rolling out "
        f"{serving.model_package_arn} in the new shape",
        differences=differences,
    )


def shape_differences(
    shape: EndpointSettings, live_config: Mapping[str, Any], scaling: VariantScaling | None
) -> list[str]:
    """How the endpoint differs from `shape`, one line each ("instance type a -> b")."""
    variants = {v.get("VariantName"): v for v in live_config.get("ProductionVariants", [])}
    variant = variants.get(shape.variant_name)
    if variant is None:
        return [f"variant {shape.variant_name}: the endpoint has {', '.join(map(str, variants))}"]
    found: list[str] = []
    if variant.get("InstanceType") != shape.instance_type:
        found.append(f"instance type {variant.get('InstanceType')} -> {shape.instance_type}")
    capture = live_config.get("DataCaptureConfig") or {}
    enabled = capture.get("EnableCapture", bool(capture))
    percent = int(capture.get("InitialSamplingPercentage", 0)) if enabled else 0
    if percent != shape.data_capture_percent:
        found.append(f"data capture {percent}% -> {shape.data_capture_percent}%")
    wanted = f"{shape.min_capacity}-{shape.max_capacity} instances"
    if scaling is None:
        found.append(f"autoscaling not registered -> {wanted}")
    else:
        if (scaling.min_capacity, scaling.max_capacity) != (shape.min_capacity, shape.max_capacity):
            found.append(f"autoscaling {scaling.min_capacity}-{scaling.max_capacity} -> {wanted}")
        if scaling.target_invocations_per_instance != shape.target_invocations_per_instance:
            found.append(
                f"target invocations per instance {scaling.target_invocations_per_instance} -> "
                f"{shape.target_invocations_per_instance}"
            )
    return found


def rollout_input(serving: ServingModel, shape: EndpointSettings, reason: str) -> dict[str, Any]:
    """The rollout state machine's input: the serving package, in the configured shape."""
    return {
        "model_package_arn": serving.model_package_arn,
        "started_by": STARTED_BY,
        "reason": f"cdk deploy: {reason}"[:1000],
        "endpoint": asdict(shape),
    }


def execution_name(request_id: str) -> str:
    """One execution per CloudFormation request: a retried request finds it started."""
    return f"cfn-{hashlib.sha256(request_id.encode()).hexdigest()[:24]}"
