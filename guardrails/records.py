"""Deployment records and the one-rollout-per-endpoint lock, in one DynamoDB table.

Item layout (partition key `pk`, sort key `sk`, both strings):
- lock:       pk=ENDPOINT#<endpoint>      sk=LOCK
- deployment: pk=ENDPOINT#<endpoint>      sk=DEPLOYMENT#<started_at>#<deployment_id>
- pointer:    pk=DEPLOYMENT#<id>          sk=RECORD   (finds a deployment by id)
- decision:   pk=DEPLOYMENT#<id>          sk=DECISION#<decided_at>#<random suffix>
- notice:     pk=DEPLOYMENT#<id>          sk=NOTICE#<kind>  (an on-call message was sent)

The lock's lease (`lease_until`, epoch seconds) ends `lease_seconds` after its holder last
refreshed it (every judge round and every other step does), so a rollout whose execution died
cannot strand the endpoint: a new rollout takes an expired lock over with a conditional write,
and an operator may release a held one (`unlock`), both on the record. (Not `expires_at`: that
is the table's TTL attribute, and DynamoDB would delete an expired lock unrecorded.)

The table is passed in (a boto3 Table resource), so tests hand in a moto-backed one.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

LOCK_SK = "LOCK"
RECORD_SK = "RECORD"
NOTICE_PREFIX = "NOTICE#"

STATUS_STARTED = "STARTED"
STATUS_DEPLOYING = "DEPLOYING"
STATUS_BAKING = "BAKING"
STATUS_FAILING = "FAILING"  # failed; the candidate is being stopped
STATUS_PROMOTED = "PROMOTED"
STATUS_ROLLED_BACK = "ROLLED_BACK"
STATUS_FAILED = "FAILED"
FINAL_STATUSES = (STATUS_PROMOTED, STATUS_ROLLED_BACK, STATUS_FAILED)


class LockHeldError(RuntimeError):
    """Another rollout holds the endpoint's lock."""

    def __init__(self, endpoint_name: str, holder: dict[str, Any]) -> None:
        self.endpoint_name = endpoint_name
        self.holder = holder
        expiry = lock_expiry(holder)
        super().__init__(
            f"endpoint {endpoint_name} is locked by rollout {holder.get('deployment_id')} "
            f"started by {holder.get('started_by')} at {holder.get('acquired_at')}"
            + (f" (lease until {expiry})" if expiry else "")
            + "; wait for it to finish or roll it back"
        )


class LockChangedError(RuntimeError):
    """The lock is no longer held by the rollout an operator meant to unlock."""


class RecordNotFoundError(LookupError):
    """No deployment record with that id."""


def now_iso() -> str:
    """UTC now, ISO 8601 with seconds: sorts as text."""
    return _iso(datetime.now(UTC))


def endpoint_pk(endpoint_name: str) -> str:
    return f"ENDPOINT#{endpoint_name}"


def deployment_pk(deployment_id: str) -> str:
    return f"DEPLOYMENT#{deployment_id}"


@dataclass(kw_only=True)
class DeploymentRecord:
    """What a rollout changed, from what, why, and how it ended."""

    deployment_id: str
    endpoint_name: str
    environment: str
    model_package_arn: str
    previous_endpoint_config: str  # the rollback target, recorded before any change
    strategy: str
    started_by: str
    started_at: str = field(default_factory=now_iso)
    new_endpoint_config: str = ""
    status: str = STATUS_STARTED
    reason: str = ""
    updated_at: str = ""
    last_decision: str = ""
    trial_endpoint_config: str = ""  # A/B and shadow: the two-variant config the candidate bakes in
    execution_arn: str = ""  # the state machine execution running the rollout

    @property
    def sort_key(self) -> str:
        return f"DEPLOYMENT#{self.started_at}#{self.deployment_id}"

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DeploymentRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: str(v) for k, v in item.items() if k in known})


def acquire_lock(
    table: Any,
    *,
    endpoint_name: str,
    deployment_id: str,
    started_by: str,
    now: datetime,
    lease_seconds: int,
    execution_arn: str = "",
) -> dict[str, Any] | None:
    """Take the endpoint's lock for `lease_seconds`; the expired lock taken over, if any.

    Raises LockHeldError naming the holder while another rollout holds an unexpired lock.
    Re-acquiring by the same rollout renews it, so a retried step cannot lock itself out.
    """
    stamp = _iso(now)
    item = {
        "pk": endpoint_pk(endpoint_name),
        "sk": LOCK_SK,
        "deployment_id": deployment_id,
        "started_by": started_by,
        "execution_arn": execution_arn,
        "acquired_at": stamp,
        "refreshed_at": stamp,
        "lease_until": _epoch(now) + lease_seconds,
    }
    try:
        response = table.put_item(
            Item=item,
            ConditionExpression=(
                "attribute_not_exists(pk) OR deployment_id = :me OR lease_until < :now"
            ),
            ExpressionAttributeValues={":me": deployment_id, ":now": _epoch(now)},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise LockHeldError(endpoint_name, current_lock(table, endpoint_name) or {}) from None
    previous = _plain(response.get("Attributes"))
    if previous and previous.get("deployment_id") != deployment_id:
        return previous
    return None


def refresh_lock(
    table: Any, *, endpoint_name: str, deployment_id: str, now: datetime, lease_seconds: int
) -> bool:
    """Extend this rollout's lock by `lease_seconds` from `now`; False when it does not hold it."""
    try:
        table.update_item(
            Key={"pk": endpoint_pk(endpoint_name), "sk": LOCK_SK},
            UpdateExpression="SET lease_until = :expires, refreshed_at = :stamp",
            ConditionExpression="deployment_id = :me",
            ExpressionAttributeValues={
                ":me": deployment_id,
                ":expires": _epoch(now) + lease_seconds,
                ":stamp": _iso(now),
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def lock_expired(lock: dict[str, Any], now: datetime) -> bool:
    """True when the lock's lease has run out (a lock without a lease never expires)."""
    expires = lock.get("lease_until")
    return isinstance(expires, int | float) and expires < _epoch(now)


def lock_expiry(lock: dict[str, Any]) -> str:
    """The lock's expiry as ISO text ("" for a lock without a lease)."""
    expires = lock.get("lease_until")
    if not isinstance(expires, int | float):
        return ""
    return _iso(datetime.fromtimestamp(expires, UTC))


def release_lock(table: Any, *, endpoint_name: str, deployment_id: str) -> bool:
    """Release the lock if this rollout holds it; True when released, False when not held."""
    try:
        table.delete_item(
            Key={"pk": endpoint_pk(endpoint_name), "sk": LOCK_SK},
            ConditionExpression="deployment_id = :me",
            ExpressionAttributeValues={":me": deployment_id},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def current_lock(table: Any, endpoint_name: str) -> dict[str, Any] | None:
    """The lock item, or None when no rollout is in flight."""
    response = table.get_item(
        Key={"pk": endpoint_pk(endpoint_name), "sk": LOCK_SK}, ConsistentRead=True
    )
    return _plain(response.get("Item"))


def unlock(
    table: Any, *, endpoint_name: str, holder: str, decided_by: str, reason: str
) -> dict[str, Any]:
    """An operator releases `holder`'s lock; the release is a decision on that rollout.

    Raises LockChangedError when the lock is no longer `holder`'s (released or taken over
    meanwhile). Returns the released lock.
    """
    try:
        response = table.delete_item(
            Key={"pk": endpoint_pk(endpoint_name), "sk": LOCK_SK},
            ConditionExpression="deployment_id = :holder",
            ExpressionAttributeValues={":holder": holder},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise LockChangedError(
            f"endpoint {endpoint_name}: the lock is no longer held by {holder}; nothing released"
        ) from None
    released = _plain(response.get("Attributes")) or {}
    add_decision(
        table,
        deployment_id=holder,
        decision="unlock",
        reason=reason,
        decided_by=decided_by,
        details={"lock": released},
    )
    return released


def put_deployment(table: Any, record: DeploymentRecord) -> None:
    """Write a new deployment record and its by-id pointer."""
    record.updated_at = record.started_at
    item = {"pk": endpoint_pk(record.endpoint_name), "sk": record.sort_key, **asdict(record)}
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    table.put_item(
        Item={
            "pk": deployment_pk(record.deployment_id),
            "sk": RECORD_SK,
            "endpoint_pk": item["pk"],
            "endpoint_sk": item["sk"],
        }
    )


def get_deployment(table: Any, deployment_id: str) -> DeploymentRecord:
    """The deployment record with that id, or RecordNotFoundError."""
    pointer = table.get_item(
        Key={"pk": deployment_pk(deployment_id), "sk": RECORD_SK}, ConsistentRead=True
    ).get("Item")
    if not pointer:
        raise RecordNotFoundError(f"deployment {deployment_id}: no such record")
    item = table.get_item(
        Key={"pk": pointer["endpoint_pk"], "sk": pointer["endpoint_sk"]}, ConsistentRead=True
    ).get("Item")
    if not item:
        raise RecordNotFoundError(f"deployment {deployment_id}: record missing")
    return DeploymentRecord.from_item(item)


def update_deployment(table: Any, record: DeploymentRecord, **changes: str) -> DeploymentRecord:
    """Set fields of a deployment record (status, reason, new_endpoint_config, ...)."""
    allowed = set(DeploymentRecord.__dataclass_fields__) - {"deployment_id", "started_at"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"update_deployment: unknown field {sorted(unknown)[0]!r}")
    changes = {**changes, "updated_at": now_iso()}
    names = {f"#{k}": k for k in changes}
    values = {f":{k}": v for k, v in changes.items()}
    table.update_item(
        Key={"pk": endpoint_pk(record.endpoint_name), "sk": record.sort_key},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ConditionExpression="attribute_exists(pk)",
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


def list_deployments(table: Any, endpoint_name: str, limit: int = 20) -> list[DeploymentRecord]:
    """The endpoint's deployments, newest first."""
    response = table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": endpoint_pk(endpoint_name), ":prefix": "DEPLOYMENT#"},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [DeploymentRecord.from_item(item) for item in response.get("Items", [])]


def latest_deployment(table: Any, endpoint_name: str) -> DeploymentRecord | None:
    """The endpoint's newest deployment, or None when it has none."""
    newest = list_deployments(table, endpoint_name, limit=1)
    return newest[0] if newest else None


def add_decision(
    table: Any,
    *,
    deployment_id: str,
    decision: str,
    reason: str,
    decided_by: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write down one decision: who, what, why, and the numbers behind it."""
    decided_at = now_iso()
    item = {
        "pk": deployment_pk(deployment_id),
        # The suffix keeps two decisions written in the same microsecond apart.
        "sk": f"DECISION#{decided_at}#{secrets.token_hex(3)}",
        "deployment_id": deployment_id,
        "decision": decision,
        "reason": reason,
        "decided_by": decided_by,
        "decided_at": decided_at,
        # JSON text: DynamoDB rejects floats, and the numbers must survive exactly as judged.
        "details": json.dumps(details or {}, sort_keys=True, default=str),
    }
    table.put_item(Item=item)
    return item


def list_decisions(table: Any, deployment_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The deployment's decisions, newest first, with `details` parsed back from JSON.

    Pages through the query: a page stops at 1 MB, a few dozen per-minute judge requests.
    """
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": deployment_pk(deployment_id), ":prefix": "DECISION#"},
        "ScanIndexForward": False,
    }
    decisions: list[dict[str, Any]] = []
    while len(decisions) < limit:
        response = table.query(**query, Limit=limit - len(decisions))
        for item in response.get("Items", []):
            plain = _plain(item) or {}
            plain["details"] = json.loads(plain.get("details") or "{}")
            decisions.append(plain)
        if "LastEvaluatedKey" not in response:
            break
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return decisions


def claim_notice(table: Any, deployment_id: str, kind: str) -> bool:
    """Claim the one `kind` message of a deployment; False when it was sent (or is being sent)."""
    try:
        table.put_item(
            Item={"pk": deployment_pk(deployment_id), "sk": NOTICE_PREFIX + kind, "at": now_iso()},
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def drop_notice(table: Any, deployment_id: str, kind: str) -> None:
    """Give a claimed message back (sending it failed), so a retry sends it."""
    table.delete_item(Key={"pk": deployment_pk(deployment_id), "sk": NOTICE_PREFIX + kind})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """DynamoDB's Decimals back to ints and floats."""
    if item is None:
        return None
    return {
        k: (int(v) if v == v.to_integral_value() else float(v)) if isinstance(v, Decimal) else v
        for k, v in item.items()
    }
