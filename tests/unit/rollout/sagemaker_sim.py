"""A simulated SageMaker endpoint and its CloudWatch, with realistic timing, for whole rollouts.

moto keeps serving the models, endpoint configs, model packages, the deployment table and SNS
(`doubles.make_world`); this double takes over the calls whose timing matters:

* SageMaker `UpdateEndpoint`: a blue/green update provisions the new fleet (`provisioning_seconds`,
  alarms not checked), then shifts traffic as its DeploymentConfig says: canary (canary share,
  then all), linear (step by step), all at once, each step followed by a baking window of
  `WaitIntervalInSeconds` in which the rollback alarms are checked every tick, then the
  termination wait (alarms still checked) before the old fleet goes. A rolling update is
  simulated like linear in batches. An alarm in ALARM during a baking window makes SageMaker
  roll back: all traffic to the old fleet at once, `RollingBack` for a minute, then InService on
  the old config with an empty FailureReason. Without a DeploymentConfig (a rollback) the new
  fleet is provisioned and takes all traffic at once, no alarms. `RetainAllVariantProperties`
  keeps the serving fleet's instance counts. Updating a busy endpoint is refused, and so is
  an update that changes the instance type of a variant registered for autoscaling.
* `UpdateEndpointWeightsAndCapacities`: `Updating` for `weights_seconds`, then the new weights.
* `CreateEndpoint` (a first deploy, in a world without an endpoint): `Creating` while the fleet
  is provisioned, then InService on the config; `DeleteEndpoint`: `Deleting` for
  `deleting_seconds`, then gone (DescribeEndpoint: "Could not find endpoint"). Both are
  refused while SageMaker is changing the endpoint, as are creating one that exists and
  describing, updating or deleting one that does not.
* `DescribeEndpoint`: status, configs, weights, instance counts and the pending deployment's
  variant statuses (Creating, then Baking with its start time) as SageMaker reports them.
* `CreateEndpointConfig`: passed to moto, and remembered whole (moto drops shadow variants).
* CloudWatch `GetMetricData`: per-minute SageMaker metrics of every fleet at
  `requests_per_minute`, split by the fleets' traffic shares and variant weights (a shadow
  variant gets a copy of every request), with each model's error rates and lognormal latency:
  Sum, SampleCount, Average, Minimum, Maximum and pNN, as CloudWatch aggregates them. During
  a blue/green update the aggregate (EndpointName, VariantName) covers both fleets and the new
  fleet also publishes with EndpointConfigName. A minute becomes visible `metrics_delay_seconds`
  after it ends.
* sagemaker-runtime `InvokeEndpoint` (the replay): each request is routed like real traffic
  (fleets' shares, variant weights; a shadow gets a copy), answered by that model (a 5xx, a
  424 or a score that is right about the row's label with the model's accuracy), named by its
  `InvokedProductionVariant`, and counted, with its outcome and latency, in that minute's
  SageMaker metrics beside the real traffic.
* `PutMetricData` of `Guardrails/Quality` (the replay's labelled counts): stored per minute as
  CloudWatch would sum them, visible after the same delay, served by `GetMetricData`.
* `PutMetricData` (the judge's verdict) and `DescribeAlarms`: the three rollback alarms are
  evaluated at every whole minute like CloudWatch would: the verdict alarm on the verdict's
  per-minute Maximum (one breaching minute of the last three), the error-rate and latency
  alarms on two breaching minutes of three; missing data does not breach.

The clock is the world's; `advance` moves it in ticks, generating traffic and moving the update.
"""

from __future__ import annotations

import io
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from typing import Any

import botocore.client
from botocore.exceptions import ClientError, ParamValidationError
from botocore.response import StreamingBody
from botocore.validate import ParamValidator
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from guardrails.judge.simulation import binomial
from guardrails.rollout.endpoint_configs import resource_names
from guardrails.rollout.metrics import QUALITY_NAMESPACE
from guardrails.rollout.schedule import VERDICT_ALARM_MINUTES
from tests.aws import REGION
from tests.unit.rollout.doubles import (
    ALARMS,
    ENDPOINT,
    LIVE_CONFIG,
    LIVE_MODEL,
    TEST_LABELS,
    World,
)

TICK_SECONDS = 5
LATENCY_SIGMA = 0.5  # lognormal shape of per-request model latency
_ORIGINAL_CALL = botocore.client.BaseClient._make_api_call
_NORMAL = NormalDist()
_INTERCEPTED = {
    "sagemaker": ("UpdateEndpoint", "UpdateEndpointWeightsAndCapacities", "DescribeEndpoint",
                  "CreateEndpointConfig", "CreateEndpoint", "DeleteEndpoint"),
    "cloudwatch": ("GetMetricData", "PutMetricData", "DescribeAlarms"),
    "sagemaker-runtime": ("InvokeEndpoint",),
}  # fmt: skip


@dataclass(frozen=True)
class ModelProfile:
    """How a model behaves: its 5xx and 4xx rates, its median latency, its labelled accuracy."""

    error_rate: float = 0.001
    client_error_rate: float = 0.0
    latency_ms: float = 40.0
    accuracy: float = 0.9  # share of the test rows it answers right


@dataclass
class Fleet:
    """The instances serving one endpoint config."""

    config: str
    variants: dict[str, dict[str, Any]]  # name -> {"model", "instances", "weight"}
    shadows: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    """One stretch of an update: the new fleet's traffic share, and whether alarms count."""

    name: str  # provisioning, baking, termination
    seconds: float
    green_share: float
    baking: bool


@dataclass
class Update:
    """An UpdateEndpoint in progress."""

    green: Fleet
    phases: list[Phase]
    guarded: bool  # alarms roll it back
    started_at: datetime
    phase_index: int = 0
    phase_started_at: datetime | None = None
    rolling_back_until: datetime | None = None
    weights_only: dict[str, float] | None = None  # UpdateEndpointWeightsAndCapacities
    creating: bool = False  # CreateEndpoint: the endpoint has no serving fleet yet
    deleting: bool = False  # DeleteEndpoint


@dataclass
class _Minute:
    """Requests of one minute per (fleet config, variant, model, green?, shadow?) contribution."""

    start: datetime
    requests: dict[tuple[str, str, str, bool, bool], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    # Requests answered one by one (the replay): key -> [n, 5xx, 4xx, latency sum in us]
    answered: dict[tuple[str, str, str, bool, bool], list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0.0])
    )


@dataclass
class SimulatedSageMaker:
    """The endpoint, its update and its metrics, moved by `advance`."""

    world: World
    requests_per_minute: float
    models: dict[str, ModelProfile]
    seed: int = 0
    provisioning_seconds: float = 480
    rolling_back_seconds: float = 60
    weights_seconds: float = 30
    deleting_seconds: float = 60
    metrics_delay_seconds: float = 60
    rng: random.Random = field(init=False)
    live: Fleet = field(init=False)
    status: str = "InService"
    update: Update | None = None
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # CreateEndpointConfig
    # (namespace, metric, frozenset(dimensions)) -> minute -> {"n", "sum", "min", ...}
    points: dict[tuple[str, str, frozenset[tuple[str, str]]], dict[datetime, dict[str, Any]]] = (
        field(default_factory=lambda: defaultdict(dict))
    )
    verdicts: dict[datetime, float] = field(default_factory=dict)  # per-minute Maximum
    alarm_states: dict[str, str] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    candidate_models: set[str] = field(default_factory=set)  # set once the rollout names it
    max_candidate_share: float = 0.0  # the most live traffic the candidate ever answered
    events: list[tuple[datetime, str]] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=lambda: dict(TEST_LABELS))  # body -> label
    # The replay's requests: (time, variant, model) each
    invocations: list[tuple[datetime, str, str]] = field(default_factory=list)
    _minute: _Minute = field(init=False)
    _carry: dict[tuple[str, str, str, bool, bool], float] = field(
        default_factory=lambda: defaultdict(float)
    )

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
        if ENDPOINT in backend.endpoints:
            self.live = self._fleet(
                LIVE_CONFIG, backend.endpoint_configs[LIVE_CONFIG].production_variants
            )
        else:  # an empty account: no endpoint until a first deploy creates it
            self.live, self.status = Fleet(config="", variants={}), ""
        self.models.setdefault(LIVE_MODEL, ModelProfile())
        self.alarm_states = {name: "OK" for name in ALARMS}
        endpoint = self.world.ctx.settings.endpoint
        self.max_error_rate = endpoint.max_5xx_error_rate  # the rollback alarms' thresholds
        self.max_latency_ms = endpoint.max_model_latency_ms
        self._minute = _Minute(start=self.now.replace(second=0, microsecond=0))

    # ------------------------------------------------------------------ time

    @property
    def now(self) -> datetime:
        return self.world.clock.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass: traffic, metrics, alarms and the update move tick by tick."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            step = min(TICK_SECONDS, (end - self.now).total_seconds())
            self._traffic(step)
            self.max_candidate_share = max(
                self.max_candidate_share, self.candidate_share(self.candidate_models)
            )
            self.world.clock.advance(step)
            if self.now >= self._minute.start + timedelta(minutes=1):
                self._close_minute()
                self._evaluate_alarms()
            self._progress()

    def log(self, text: str) -> None:
        self.events.append((self.now, text))

    # ------------------------------------------------------------------ the endpoint

    @property
    def config_name(self) -> str:
        return self.live.config

    def scale(self, instances: int) -> None:
        """Autoscaling changed the serving variant's instance count."""
        for variant in self.live.variants.values():
            variant["instances"] = instances

    def _fleet(self, config: str, variants: list[dict[str, Any]], shadows: Any = ()) -> Fleet:
        def entry(variant: dict[str, Any]) -> dict[str, Any]:
            return {
                "model": variant["ModelName"],
                "instances": int(variant.get("InitialInstanceCount", 1)),
                "weight": float(variant.get("InitialVariantWeight", 1.0)),
                "type": variant.get("InstanceType", ""),
            }

        return Fleet(
            config=config,
            variants={v["VariantName"]: entry(v) for v in variants},
            shadows={v["VariantName"]: entry(v) for v in shadows},
        )

    def _config_fleet(self, name: str) -> Fleet:
        remembered = self.configs.get(name)
        if remembered is not None:
            return self._fleet(
                name,
                remembered["ProductionVariants"],
                remembered.get("ShadowProductionVariants", ()),
            )
        backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
        return self._fleet(name, backend.endpoint_configs[name].production_variants)

    @property
    def exists(self) -> bool:
        return self.status != ""

    def _create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.exists:
            raise _validation("CreateEndpoint", f"Cannot create existing endpoint {ENDPOINT}")
        green = self._config_fleet(params["EndpointConfigName"])
        self.updates.append(params)
        self.update = Update(
            green=green,
            phases=[Phase("provisioning", self.provisioning_seconds, 0.0, baking=False)],
            guarded=False,
            started_at=self.now,
            phase_started_at=self.now,
            creating=True,
        )
        self.live, self.status = Fleet(config=green.config, variants={}), "Creating"
        self.log(f"CreateEndpoint on {green.config}")
        return {"EndpointArn": self._arn()}

    def _delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.exists:
            raise _validation("DeleteEndpoint", f'Could not find endpoint "{ENDPOINT}".')
        if self.status != "InService" and self.status != "Failed":
            raise _validation("DeleteEndpoint", f"Cannot delete endpoint in status {self.status}")
        self.update = Update(
            green=Fleet(config="", variants={}),
            phases=[Phase("deleting", self.deleting_seconds, 0.0, baking=False)],
            guarded=False,
            started_at=self.now,
            phase_started_at=self.now,
            deleting=True,
        )
        self.live = Fleet(config=self.live.config, variants={})  # no traffic is served any more
        self.status = "Deleting"
        self.log(f"DeleteEndpoint {ENDPOINT}")
        return {}

    def _arn(self) -> str:
        return f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:endpoint/{ENDPOINT}"

    def _update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.exists:
            raise _validation("UpdateEndpoint", f'Could not find endpoint "{ENDPOINT}".')
        if self.status != "InService":
            raise _validation("UpdateEndpoint", f"Cannot update in-progress endpoint {ENDPOINT}")
        green = self._config_fleet(params["EndpointConfigName"])
        for name, variant in green.variants.items():
            live = self.live.variants.get(name)
            scaled = self.world.ctx.autoscaling.scaling(ENDPOINT, name) is not None
            if live and live["type"] != variant["type"] and scaled:
                raise _validation(
                    "UpdateEndpoint",
                    f"The variant {name} is registered for autoscaling: deregister it before "
                    "changing its instance type",
                )
        if params.get("RetainAllVariantProperties"):
            for name, variant in green.variants.items():
                if name in self.live.variants:
                    variant["instances"] = self.live.variants[name]["instances"]
        config = params.get("DeploymentConfig")
        self.updates.append(params)
        self.update = Update(
            green=green,
            phases=self._phases(config),
            guarded=bool(config and config.get("AutoRollbackConfiguration")),
            started_at=self.now,
            phase_started_at=self.now,
        )
        self.status = "Updating"
        self.log(f"UpdateEndpoint -> {green.config} ({self._describe_config(config)})")
        return {
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:endpoint/{ENDPOINT}"
        }

    def _phases(self, config: dict[str, Any] | None) -> list[Phase]:
        provisioning = Phase("provisioning", self.provisioning_seconds, 0.0, baking=False)
        if not config:
            return [provisioning]
        if "RollingUpdatePolicy" in config:
            policy = config["RollingUpdatePolicy"]
            size, wait = policy["MaximumBatchSize"]["Value"], policy["WaitIntervalInSeconds"]
            shares = [min(100, size * k) for k in range(1, math.ceil(100 / size) + 1)]
            return [provisioning] + [Phase("baking", wait, s / 100, True) for s in shares]
        policy = config["BlueGreenUpdatePolicy"]
        routing = policy["TrafficRoutingConfiguration"]
        wait = routing.get("WaitIntervalInSeconds", 0)
        termination = Phase("termination", policy.get("TerminationWaitInSeconds", 0), 1.0, True)
        if routing["Type"] == "CANARY":
            shares = [routing["CanarySize"]["Value"]]
        elif routing["Type"] == "LINEAR":
            size = routing["LinearStepSize"]["Value"]
            shares = [size * k for k in range(1, math.ceil(100 / size)) if size * k < 100]
        else:  # ALL_AT_ONCE: the whole fleet bakes for the wait interval
            shares = [100]
        return (
            [provisioning] + [Phase("baking", wait, s / 100, True) for s in shares] + [termination]
        )

    def _describe_config(self, config: dict[str, Any] | None) -> str:
        if not config:
            return "no DeploymentConfig"
        if "RollingUpdatePolicy" in config:
            return "ROLLING"
        return config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]

    def _update_weights(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.status != "InService":
            raise _validation("UpdateEndpointWeightsAndCapacities", "endpoint is not InService")
        weights = {
            d["VariantName"]: float(d["DesiredWeight"])
            for d in params["DesiredWeightsAndCapacities"]
        }
        self.update = Update(
            green=self.live,
            phases=[Phase("weights", self.weights_seconds, 0.0, baking=False)],
            guarded=False,
            started_at=self.now,
            phase_started_at=self.now,
            weights_only=weights,
        )
        self.status = "Updating"
        self.log(f"UpdateEndpointWeightsAndCapacities {weights}")
        return {
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:endpoint/{ENDPOINT}"
        }

    def _progress(self) -> None:
        update = self.update
        if update is None:
            return
        if update.rolling_back_until is not None:
            if self.now >= update.rolling_back_until:
                self.update, self.status = None, "InService"
                self.log(f"rolled back: InService on {self.live.config}")
            return
        phase = update.phases[update.phase_index]
        if phase.baking and update.guarded:
            firing = [name for name, state in self.alarm_states.items() if state == "ALARM"]
            if firing:
                update.rolling_back_until = self.now + timedelta(seconds=self.rolling_back_seconds)
                self.status = "RollingBack"
                self.log(f"alarm {firing[0]} in ALARM while baking: SageMaker rolls back")
                return
        assert update.phase_started_at is not None
        if self.now < update.phase_started_at + timedelta(seconds=phase.seconds):
            return
        if update.phase_index + 1 < len(update.phases):
            update.phase_index += 1
            update.phase_started_at = self.now
            following = update.phases[update.phase_index]
            self.log(f"{following.name}: new fleet at {following.green_share:.0%}")
            return
        if update.deleting:
            self.live, self.update, self.status = Fleet(config="", variants={}), None, ""
            self.log(f"endpoint {ENDPOINT} deleted")
            return
        if update.weights_only is not None:
            for name, weight in update.weights_only.items():
                self.live.variants[name]["weight"] = weight
        else:
            self.live = update.green
        self.update, self.status = None, "InService"
        self.log(f"update done: InService on {self.live.config}")

    def _green_share(self) -> float:
        update = self.update
        if (
            update is None
            or update.weights_only is not None
            or update.rolling_back_until
            or update.creating
            or update.deleting
        ):
            return 0.0
        return update.phases[update.phase_index].green_share

    def _describe_endpoint(self) -> dict[str, Any]:
        if not self.exists:
            raise _validation("DescribeEndpoint", f'Could not find endpoint "{ENDPOINT}".')

        def summary(fleet: Fleet) -> list[dict[str, Any]]:
            return [
                {
                    "VariantName": name,
                    "CurrentWeight": v["weight"],
                    "DesiredWeight": v["weight"],
                    "CurrentInstanceCount": v["instances"],
                    "DesiredInstanceCount": v["instances"],
                }
                for name, v in fleet.variants.items()
            ]

        response: dict[str, Any] = {
            "EndpointName": ENDPOINT,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:endpoint/{ENDPOINT}",
            "EndpointConfigName": self.live.config,
            "EndpointStatus": self.status,
            "ProductionVariants": summary(self.live),
            "CreationTime": self.world.start,
            "LastModifiedTime": self.now,
        }
        update = self.update
        if (
            update is not None
            and update.weights_only is None
            and not update.rolling_back_until
            and not (update.creating or update.deleting)
        ):
            phase = update.phases[update.phase_index]
            status = "Baking" if phase.green_share > 0 else "Creating"
            pending = summary(update.green)
            for variant in pending:
                variant["VariantStatus"] = [
                    {"Status": status, "StartTime": update.phase_started_at}
                ]
            response["PendingDeploymentSummary"] = {
                "EndpointConfigName": update.green.config,
                "StartTime": update.started_at,
                "ProductionVariants": pending,
            }
        return response

    # ------------------------------------------------------------------ traffic and metrics

    def candidate_share(self, candidate_models: set[str]) -> float:
        """The share of live traffic the candidate's models answer right now (shadows excluded)."""
        share = 0.0
        for fleet, fleet_share, _green in self._fleets():
            total = sum(v["weight"] for v in fleet.variants.values()) or 1.0
            for variant in fleet.variants.values():
                if variant["model"] in candidate_models:
                    share += fleet_share * variant["weight"] / total
        return share

    def _fleets(self) -> list[tuple[Fleet, float, bool]]:
        green = self._green_share()
        fleets = [(self.live, 1.0 - green, False)]
        if green > 0 and self.update is not None:
            fleets.append((self.update.green, green, True))
        return fleets

    def _traffic(self, seconds: float) -> None:
        rate = self.requests_per_minute * seconds / 60
        for fleet, fleet_share, green in self._fleets():
            total = sum(v["weight"] for v in fleet.variants.values()) or 1.0
            for name, variant in fleet.variants.items():
                share = fleet_share * variant["weight"] / total
                if share > 0:
                    key = (fleet.config, name, variant["model"], green, False)
                    self._minute.requests[key] += rate * share
            for name, variant in fleet.shadows.items():
                key = (fleet.config, name, variant["model"], green, True)
                self._minute.requests[key] += rate * fleet_share

    def _close_minute(self) -> None:
        minute = self._minute
        streams: dict[frozenset[tuple[str, str]], list[tuple[str, int]]] = defaultdict(list)
        answered: dict[frozenset[tuple[str, str]], list[tuple[str, list[float]]]] = defaultdict(
            list
        )

        def streams_of(key: tuple[str, str, str, bool, bool]) -> list[frozenset[tuple[str, str]]]:
            config, variant, _model, green, _shadow = key
            production = {("EndpointName", ENDPOINT), ("VariantName", variant)}
            if not green:
                return [frozenset(production)]
            return [frozenset(production), frozenset(production | {("EndpointConfigName", config)})]

        for key, amount in minute.requests.items():
            whole = math.floor(amount + self._carry[key])
            self._carry[key] += amount - whole
            if whole <= 0:
                continue
            for dimensions in streams_of(key):
                streams[dimensions].append((key[2], whole))
        for key, outcome in minute.answered.items():
            for dimensions in streams_of(key):
                answered[dimensions].append((key[2], outcome))
        for dimensions in streams.keys() | answered.keys():
            self._publish(minute.start, dimensions, streams[dimensions], answered[dimensions])
        self._minute = _Minute(start=minute.start + timedelta(minutes=1))

    def _publish(
        self,
        stamp: datetime,
        dimensions: frozenset[tuple[str, str]],
        parts: list[tuple[str, int]],
        answered: list[tuple[str, list[float]]],
    ) -> None:
        """One minute of SageMaker metrics: counted traffic drawn now, answered requests as were."""
        n = sum(count for _, count in parts) + round(sum(o[0] for _, o in answered))
        errors = sum(binomial(self.rng, c, self._model(m).error_rate) for m, c in parts)
        errors += round(sum(o[1] for _, o in answered))
        client_errors = sum(
            binomial(self.rng, c, self._model(m).client_error_rate) for m, c in parts
        )
        client_errors += round(sum(o[2] for _, o in answered))
        latency_sum = sum(o[3] for _, o in answered)
        for model, count in parts:
            median = self._model(model).latency_ms * 1000
            mean = median * math.exp(LATENCY_SIGMA**2 / 2)
            spread = mean * math.sqrt(math.exp(LATENCY_SIGMA**2) - 1)
            latency_sum += max(0.0, self.rng.gauss(count * mean, spread * math.sqrt(count)))
        counts = [(m, c) for m, c in parts] + [(m, round(o[0])) for m, o in answered]
        mixture = [(count / n, math.log(self._model(m).latency_ms * 1000)) for m, count in counts]
        visible = stamp + timedelta(minutes=1, seconds=self.metrics_delay_seconds)

        def store(metric: str, values: dict[str, Any]) -> None:
            key = ("AWS/SageMaker", metric, dimensions)
            self.points[key][stamp] = {**values, "visible_at": visible}

        store("Invocations", {"Sum": n, "SampleCount": n, "Minimum": 1, "Maximum": 1})
        for metric, bad in (
            ("Invocation5XXErrors", errors),
            ("Invocation4XXErrors", client_errors),
        ):
            store(metric, {"Sum": bad, "SampleCount": n, "Minimum": 0, "Maximum": int(bad > 0)})
        store(
            "ModelLatency",
            {
                "Sum": latency_sum,
                "SampleCount": n,
                "Minimum": _mixture_quantile(mixture, 1 / (n + 1)),
                "Maximum": _mixture_quantile(mixture, n / (n + 1)),
                "mixture": mixture,
            },
        )

    def _model(self, name: str) -> ModelProfile:
        return self.models.get(name, ModelProfile())

    def _value(self, point: dict[str, Any], stat: str) -> float | None:
        if stat == "Average":
            return point["Sum"] / point["SampleCount"] if point["SampleCount"] else None
        if stat.startswith("p"):
            if "mixture" not in point:
                return None
            return _mixture_quantile(point["mixture"], float(stat[1:]) / 100)
        value = point.get(stat)
        return None if value is None else float(value)

    def _get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        start, end = _aware(params["StartTime"]), _aware(params["EndTime"])
        results = []
        for query in params["MetricDataQueries"]:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            dimensions = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
            stamps, values = [], []
            if metric["Namespace"] in ("AWS/SageMaker", QUALITY_NAMESPACE):
                series = self.points.get(
                    (metric["Namespace"], metric["MetricName"], dimensions), {}
                )
                for stamp in sorted(series):
                    point = series[stamp]
                    value = self._value(point, stat["Stat"])
                    if (
                        start <= stamp < end
                        and point["visible_at"] <= self.now
                        and value is not None
                    ):
                        stamps.append(stamp)
                        values.append(value)
            results.append(
                {"Id": query["Id"], "Label": metric["MetricName"], "Timestamps": stamps,
                 "Values": values, "StatusCode": "Complete"}
            )  # fmt: skip
        return {"MetricDataResults": results, "Messages": []}

    def _put_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["Namespace"] == QUALITY_NAMESPACE:
            for datum in params["MetricData"]:
                stamp = _aware(datum["Timestamp"]).replace(second=0, microsecond=0)
                dimensions = frozenset((d["Name"], d["Value"]) for d in datum["Dimensions"])
                series = self.points[(QUALITY_NAMESPACE, datum["MetricName"], dimensions)]
                point = series.setdefault(
                    stamp,
                    {"Sum": 0.0, "SampleCount": 0, "visible_at": stamp + timedelta(
                        minutes=1, seconds=self.metrics_delay_seconds)},
                )  # fmt: skip
                point["Sum"] += datum["Value"]
                point["SampleCount"] += 1
        if params["Namespace"] == "Guardrails":
            for datum in params["MetricData"]:
                if datum["MetricName"] == "JudgeVerdict":
                    stamp = _aware(datum["Timestamp"]).replace(second=0, microsecond=0)
                    self.verdicts[stamp] = max(self.verdicts.get(stamp, 0.0), datum["Value"])
        return {}

    # ------------------------------------------------------------------ the replay

    def _invoke(self, params: dict[str, Any]) -> dict[str, Any]:
        """One request routed like real traffic, answered by the model that serves it."""
        fleets = self._fleets()
        fleet, _share, green = self._pick([(f, share, g) for f, share, g in fleets])
        total = sum(v["weight"] for v in fleet.variants.values()) or 1.0
        name = self._pick([(n, v["weight"] / total, n) for n, v in fleet.variants.items()])[2]
        variant = fleet.variants[name]
        for shadow, copy in fleet.shadows.items():  # a shadow answers a copy, seen by no one
            self._answer((fleet.config, shadow, copy["model"], green, True))
        outcome = self._answer((fleet.config, name, variant["model"], green, False))
        self.invocations.append((self.now, name, variant["model"]))
        if outcome == "5xx":
            raise _runtime_error("InternalFailure", 500, "An internal error occurred")
        if outcome == "4xx":
            raise _runtime_error("ModelError", 424, "Received client error from the model")
        body = params["Body"].decode() if isinstance(params["Body"], bytes) else params["Body"]
        label = self.labels.get(body, self.rng.randrange(2))
        right = self.rng.random() < self._model(variant["model"]).accuracy
        score = b"0.83" if (label == 1) == right else b"0.17"
        return {
            "Body": StreamingBody(io.BytesIO(score), len(score)),
            "ContentType": "text/csv; charset=utf-8",
            "InvokedProductionVariant": name,
        }

    def _answer(self, key: tuple[str, str, str, bool, bool]) -> str:
        """Count one request of `key` in this minute: "ok", "5xx" or "4xx"."""
        profile = self._model(key[2])
        draw = self.rng.random()
        outcome = (
            "5xx"
            if draw < profile.error_rate
            else "4xx"
            if draw < profile.error_rate + profile.client_error_rate
            else "ok"
        )
        latency = profile.latency_ms * 1000 * math.exp(LATENCY_SIGMA * self.rng.gauss(0, 1))
        tally = self._minute.answered[key]
        tally[0] += 1
        tally[1] += outcome == "5xx"
        tally[2] += outcome == "4xx"
        tally[3] += latency
        return outcome

    def _pick(self, choices: list[tuple[Any, float, Any]]) -> tuple[Any, float, Any]:
        """One of `choices` (first, weight, third), drawn by weight."""
        draw = self.rng.random() * sum(weight for _, weight, _ in choices)
        for choice in choices:
            draw -= choice[1]
            if draw < 0:
                return choice
        return choices[-1]

    # ------------------------------------------------------------------ alarms

    def _evaluate_alarms(self) -> None:
        """At a whole minute: each alarm over its last complete minutes, as configured."""
        minute = self._minute.start  # the minute that just began
        verdict_minutes = [
            minute - timedelta(minutes=k) for k in range(1, VERDICT_ALARM_MINUTES + 1)
        ]
        production = frozenset({("EndpointName", ENDPOINT), ("VariantName", "AllTraffic")})
        errors = self.points.get(("AWS/SageMaker", "Invocation5XXErrors", production), {})
        latency = self.points.get(("AWS/SageMaker", "ModelLatency", production), {})

        def breaching(series: dict[datetime, dict[str, Any]], stat: str, threshold: float) -> int:
            count = 0
            for k in range(1, 4):
                point = series.get(minute - timedelta(minutes=k))
                if point is None or point["visible_at"] > self.now:
                    continue
                value = self._value(point, stat)
                count += value is not None and value > threshold
            return count

        states = {
            ALARMS[0]: breaching(errors, "Average", self.max_error_rate) >= 2,
            ALARMS[1]: breaching(latency, "p99", self.max_latency_ms * 1000) >= 2,
            ALARMS[2]: any(self.verdicts.get(stamp, 0.0) >= 1 for stamp in verdict_minutes),
        }
        for name, alarm in states.items():
            state = "ALARM" if alarm else "OK"
            if state != self.alarm_states[name]:
                self.log(f"alarm {name} -> {state}")
            self.alarm_states[name] = state

    def _describe_alarms(self, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("AlarmNames") or list(self.alarm_states)
        return {
            "MetricAlarms": [
                {"AlarmName": name, "StateValue": self.alarm_states[name]}
                for name in names
                if name in self.alarm_states
            ]
        }

    # ------------------------------------------------------------------ the AWS seam

    def install(self, monkeypatch: Any) -> None:
        """Route the simulated operations here; moto serves every other call."""

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if operation not in _INTERCEPTED.get(service, ()):
                return _ORIGINAL_CALL(client, operation, params)
            shape = client.meta.service_model.operation_model(operation).input_shape
            report = ParamValidator().validate(params, shape)
            if report.has_errors():
                raise ParamValidationError(report=report.generate_report())
            if operation == "CreateEndpointConfig":
                self.configs[params["EndpointConfigName"]] = params
                return _ORIGINAL_CALL(client, operation, params)
            handler = {
                "UpdateEndpoint": self._update_endpoint,
                "CreateEndpoint": self._create_endpoint,
                "DeleteEndpoint": self._delete_endpoint,
                "UpdateEndpointWeightsAndCapacities": self._update_weights,
                "DescribeEndpoint": lambda _: self._describe_endpoint(),
                "GetMetricData": self._get_metric_data,
                "PutMetricData": self._put_metric_data,
                "DescribeAlarms": self._describe_alarms,
                "InvokeEndpoint": self._invoke,
            }[operation]
            return handler(params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)


def installed(
    world: World,
    monkeypatch: Any,
    *,
    requests_per_minute: float,
    baseline: ModelProfile,
    candidate: ModelProfile,
    seed: int = 0,
    deployment_id: str = "d-1",
) -> SimulatedSageMaker:
    """The simulated endpoint serving `baseline`, routed in; `candidate` profiles the model the
    rollout `deployment_id` will create (it is named after the deployment)."""
    sim = SimulatedSageMaker(
        world=world,
        requests_per_minute=requests_per_minute,
        models={LIVE_MODEL: baseline},
        seed=seed,
    )
    sim.install(monkeypatch)
    sim.models[resource_names(ENDPOINT, deployment_id).model] = candidate
    return sim


def _runtime_error(code: str, status: int, message: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "InvokeEndpoint",
    )


def _validation(operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _mixture_quantile(mixture: list[tuple[float, float]], q: float) -> float:
    """The q-quantile of a mixture of lognormals given as (weight, log median), same sigma."""
    low = min(mu for _, mu in mixture) + LATENCY_SIGMA * _NORMAL.inv_cdf(
        min(max(q, 1e-9), 1 - 1e-9)
    )
    high = max(mu for _, mu in mixture) + LATENCY_SIGMA * _NORMAL.inv_cdf(
        min(max(q, 1e-9), 1 - 1e-9)
    )
    for _ in range(50):
        middle = (low + high) / 2
        cdf = sum(w * _NORMAL.cdf((middle - mu) / LATENCY_SIGMA) for w, mu in mixture)
        low, high = (middle, high) if cdf < q else (low, middle)
    return math.exp((low + high) / 2)
