"""The Replay step: the released test data, checked; paced requests; counts; labelled accuracy.

moto serves the package, the released test data, the table and CloudWatch; a fake
sagemaker-runtime client answers (moto's cannot say which variant served, fail or throttle).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.response import StreamingBody
from moto import mock_aws

from guardrails import records
from guardrails.release.record import released_location
from guardrails.rollout import replay as replaying
from guardrails.rollout.context import LockLost, RolloutContext
from guardrails.rollout.endpoint_configs import CANDIDATE_VARIANT
from guardrails.rollout.replay import JudgeRound, ReplayRound, prediction, read_test_data
from guardrails.rollout.state import EventError, RolloutRefused, RolloutState
from guardrails.services.sagemaker import SageMakerSeam
from tests.aws import REGION
from tests.released import RELEASED_BUCKET, release, sha256
from tests.unit.rollout.doubles import (
    ENDPOINT,
    GROUP,
    TEST_DATA,
    TEST_LABELS,
    VARIANT,
    World,
    make_world,
)


@pytest.fixture(autouse=True)
def fresh_cache():
    replaying._LOADED.clear()
    yield
    replaying._LOADED.clear()


# ------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("answer", "predicted"),
    [(b"0.83", 1), (b"0.17", 0), (b"0.5\n", 1), (b"[0.7]", 1), (b"1", 1), (b"-2e-3", 0),
     (b"error", None), (b"", None)],
)  # fmt: skip
def test_an_answer_is_the_class_its_first_score_says(answer, predicted):
    assert prediction(answer) == predicted


@pytest.mark.parametrize(
    ("line", "usable"),
    [("1,0.5,2", True), ("0.0,3", True), ("2,0.5", False), ("1", False), ("x,1", False),
     ("1,abc", False), ("0,inf", False)],
)  # fmt: skip
def test_rows_need_a_0_1_label_and_numeric_features(line, usable):
    row = replaying.parse_row(line.split(","))
    assert (row is not None) == usable
    if row is not None:
        assert row.body == line.split(",", 1)[1]


def chunked(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_test_data_is_read_across_chunks_and_verified_byte_for_byte():
    data = read_test_data(chunked(TEST_DATA), sha256=sha256(TEST_DATA), source="s3://t", seed="s")
    assert {row.body: row.label for row in data.rows} == TEST_LABELS
    assert (data.read, data.unusable) == (len(TEST_LABELS), 0)


def test_test_data_that_is_not_what_was_approved_is_refused():
    with pytest.raises(RolloutRefused) as refused:
        read_test_data([TEST_DATA + b"1,9,9,9,9\n"], sha256=sha256(TEST_DATA), source="s3://t",
                       seed="s")  # fmt: skip
    assert str(refused.value).startswith("released test data s3://t has SHA-256 ")
    assert f"recorded {sha256(TEST_DATA)}: refusing to replay it" in str(refused.value)


def test_test_data_without_a_usable_row_is_refused():
    raw = b"label,a,b\nyes,1,2\n"
    with pytest.raises(RolloutRefused, match=r"no usable row \(2 rows, 2 without a 0/1 label"):
        read_test_data([raw], sha256=sha256(raw), source="s3://t", seed="s")


def test_a_large_split_is_sampled_uniformly_within_the_row_limit(monkeypatch):
    monkeypatch.setattr(replaying, "MAX_ROWS", 50)
    data = read_test_data([TEST_DATA], sha256=sha256(TEST_DATA), source="s3://t", seed="s")
    assert len(data.rows) == 50 and data.read == len(TEST_LABELS)
    assert len({row.body for row in data.rows}) == 50
    late = list(TEST_LABELS)[50:]  # rows past the first 50 make it into the sample
    assert any(row.body in late for row in data.rows)


def test_rounds_carry_the_intervals_share_of_the_rate():
    assert replaying.requests_per_round(120, 60) == 120
    assert replaying.requests_per_round(120, 90) == 180
    assert replaying.requests_per_round(1, 60) == 1


def test_a_round_survives_the_state_machine_and_bad_counts_are_named():
    round_ = ReplayRound(
        deployment_id="d-1", planned=120, sent=118, answered=110, failed=5, throttled=3,
        unsent=2, labelled={"AllTraffic": {"correct": 50, "total": 55}},
        accuracy_published=True, note="110 of 118 answered",
    )  # fmt: skip
    assert ReplayRound.parse(json.loads(json.dumps(round_.to_event()))) == round_
    for bad, message in (
        ({"sent": -1}, "replay.sent: must be a whole number >= 0"),
        ({"failed": True}, "replay.failed: must be a whole number >= 0"),
        ({"labelled": {"A": {"correct": 1}}}, "replay.labelled: must map variants"),
        ({"accuracy_published": "no"}, "replay.accuracy_published: must be true or false"),
    ):
        with pytest.raises(EventError, match=message):
            ReplayRound.parse({**round_.to_event(), **bad})


def test_the_judge_round_reads_the_replay_where_the_state_machine_left_it():
    state = {
        "deployment_id": "d-1", "model_package_arn": "arn", "started_by": "ci", "strategy": "ab",
        "model_name": "m", "previous_config": "p", "new_config": "n",
    }  # fmt: skip
    assert JudgeRound.parse({"rollout": state}).replay is None
    replayed = JudgeRound.parse({"rollout": {**state, "replay": {"planned": 120, "sent": 120}}})
    assert replayed.state.deployment_id == "d-1"
    assert replayed.replay is not None and replayed.replay.sent == 120
    with pytest.raises(EventError, match="replay: must be an object"):
        JudgeRound.parse({"rollout": {**state, "replay": "lots"}})


# ------------------------------------------------------------------ the step


@dataclass
class FakeRuntime:
    """sagemaker-runtime's InvokeEndpoint: answers in turn from `script`, on the world's clock.

    Each script entry is a variant name (a right answer), ("wrong", variant), or an exception.
    """

    world: World
    script: list[Any]
    seconds_per_call: float = 0.0
    calls: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)

    def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        self.calls.append((self.world.clock.now, params))
        self.world.clock.advance(self.seconds_per_call)
        entry = self.script[(len(self.calls) - 1) % len(self.script)]
        if isinstance(entry, Exception):
            raise entry
        wrong, variant = entry if isinstance(entry, tuple) else (None, entry)
        label = TEST_LABELS[params["Body"].decode()]
        score = b"0.9" if (label == 1) != (wrong == "wrong") else b"0.1"
        return {"Body": StreamingBody(io.BytesIO(score), len(score)),
                "InvokedProductionVariant": variant}  # fmt: skip


def throttled() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"},
         "ResponseMetadata": {"HTTPStatusCode": 400}},
        "InvokeEndpoint",
    )  # fmt: skip


def model_error() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ModelError", "Message": "bad row"},
         "ResponseMetadata": {"HTTPStatusCode": 424}},
        "InvokeEndpoint",
    )  # fmt: skip


@pytest.fixture
def aws():
    with mock_aws():
        yield


def replay_world(monkeypatch, *, strategy: str = "ab", rate: int = 120) -> World:
    world = make_world(
        monkeypatch,
        strategy=strategy,
        deployment={"ab_weight_steps": [50, 100]} if strategy == "ab" else {},
        traffic={"replay_requests_per_minute": rate},
    )
    records.acquire_lock(
        world.table, endpoint_name=ENDPOINT, deployment_id="d-1", started_by="ci",
        now=world.clock.now, lease_seconds=900,
    )  # fmt: skip
    return world


def rollout(world: World, strategy: str = "ab") -> RolloutState:
    return RolloutState(
        deployment_id="d-1",
        model_package_arn=world.approved_package,
        started_by="ci",
        strategy=strategy,
        model_name="m",
        previous_config="live-config",
        new_config="new",
        trial_config="trial" if strategy == "ab" else "",
        candidate_variant=CANDIDATE_VARIANT if strategy == "ab" else "",
        rounds=3,
    )


def run_round(world: World, runtime: FakeRuntime, state: RolloutState | None = None):
    ctx: RolloutContext = replace(
        world.ctx,
        sagemaker=SageMakerSeam(world.sagemaker, runtime),
        sleep=world.clock.advance,
    )
    return replaying.replay(state or rollout(world), ctx)


def quality_sums(world: World, variant: str, start: datetime) -> tuple[float, float]:
    sums = []
    for metric in ("LabelledCorrect", "LabelledTotal"):
        points = world.cloudwatch.get_metric_statistics(
            Namespace="Guardrails/Quality",
            MetricName=metric,
            Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT},
                        {"Name": "VariantName", "Value": variant}],
            StartTime=start - timedelta(minutes=1),
            EndTime=start + timedelta(minutes=5),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        sums.append(sum(p["Sum"] for p in points))
    return sums[0], sums[1]


def test_a_round_spreads_the_intervals_requests_over_it_and_ends_with_the_interval(
    aws, monkeypatch
):
    world = replay_world(monkeypatch)
    runtime = FakeRuntime(world, [VARIANT, CANDIDATE_VARIANT])
    started = world.clock.now
    round_ = run_round(world, runtime)

    assert (round_.planned, round_.sent, round_.answered, round_.unsent) == (120, 120, 120, 0)
    times = [(at - started).total_seconds() for at, _ in runtime.calls]
    assert times == [i * 0.5 for i in range(120)]  # evenly over the 60 s interval
    assert world.clock.now == started + timedelta(seconds=60)  # it took the Wait state's place
    bodies = [params["Body"].decode() for _, params in runtime.calls]
    assert set(bodies) <= set(TEST_LABELS)  # only rows of the released test data
    assert {params["ContentType"] for _, params in runtime.calls} == {"text/csv"}
    assert {params["EndpointName"] for _, params in runtime.calls} == {ENDPOINT}


def test_ab_answers_become_labelled_counts_of_each_fleet(aws, monkeypatch):
    world = replay_world(monkeypatch)
    started = world.clock.now
    # Baseline right every time; the candidate wrong every other time; a stray variant ignored.
    script = [VARIANT, CANDIDATE_VARIANT, VARIANT, ("wrong", CANDIDATE_VARIANT), VARIANT, "Other"]
    round_ = run_round(world, FakeRuntime(world, script))

    assert round_.accuracy_published is True
    assert round_.labelled == {
        VARIANT: {"correct": 60, "total": 60},
        CANDIDATE_VARIANT: {"correct": 20, "total": 40},
        "Other": {"correct": 20, "total": 20},
    }
    assert quality_sums(world, VARIANT, started) == (60, 60)
    assert quality_sums(world, CANDIDATE_VARIANT, started) == (20, 40)
    assert quality_sums(world, "Other", started) == (0, 0)


def test_failures_and_throttling_are_counted_and_never_raised(aws, monkeypatch):
    world = replay_world(monkeypatch)
    timeout = ReadTimeoutError(endpoint_url="https://runtime.sagemaker")
    script = [VARIANT, throttled(), model_error(), timeout, CANDIDATE_VARIANT, VARIANT]
    round_ = run_round(world, FakeRuntime(world, script))

    assert (round_.sent, round_.answered, round_.failed, round_.throttled) == (120, 60, 40, 20)
    assert round_.note.startswith("60 of 120 answered (")
    for code in ("ThrottlingException x20", "ModelError x20", "ReadTimeoutError x20"):
        assert code in round_.note


def test_a_sender_that_falls_behind_stops_at_the_end_of_the_interval(aws, monkeypatch):
    world = replay_world(monkeypatch)
    started = world.clock.now
    runtime = FakeRuntime(world, [VARIANT], seconds_per_call=1.0)  # each answer takes 1 s
    round_ = run_round(world, runtime)

    assert (round_.sent, round_.unsent) == (60, 60)
    assert runtime.calls[-1][0] < started + timedelta(seconds=60)


def test_native_answers_are_counted_but_their_accuracy_is_not_published(aws, monkeypatch):
    world = replay_world(monkeypatch, strategy="canary")
    started = world.clock.now
    round_ = run_round(world, FakeRuntime(world, [VARIANT]), rollout(world, "canary"))

    assert round_.labelled == {VARIANT: {"correct": 120, "total": 120}}
    assert round_.accuracy_published is False
    assert "not published: a native rollout's answers do not say which fleet" in round_.note
    assert quality_sums(world, VARIANT, started) == (0, 0)


def test_test_data_changed_after_approval_is_never_replayed(aws, monkeypatch):
    world = replay_world(monkeypatch)
    location = released_location(RELEASED_BUCKET, world.approved_package, "test-data")
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=location.bucket, Key=location.key, Body=b"1,6,6,6,6\n")  # a new version
    runtime = FakeRuntime(world, [VARIANT])
    with pytest.raises(RolloutRefused, match="refusing to replay it"):
        run_round(world, runtime)
    assert runtime.calls == []


def test_a_package_released_without_test_data_has_nothing_to_replay(aws, monkeypatch):
    world = replay_world(monkeypatch)
    s3 = boto3.client("s3", region_name=REGION)
    bare = world.sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [{"Image": "i", "ModelDataUrl": "s3://a/m"}],
                                "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]  # fmt: skip
    release(world.sagemaker, s3, bare)
    runtime = FakeRuntime(world, [VARIANT])
    with pytest.raises(RolloutRefused, match="records no released test data at s3://"):
        run_round(world, runtime, replace(rollout(world), model_package_arn=bare))
    assert runtime.calls == []


def test_a_rollout_that_lost_its_lock_replays_nothing(aws, monkeypatch):
    world = replay_world(monkeypatch)
    records.release_lock(world.table, endpoint_name=ENDPOINT, deployment_id="d-1")
    runtime = FakeRuntime(world, [VARIANT])
    with pytest.raises(LockLost):
        run_round(world, runtime)
    assert runtime.calls == []


def test_the_test_data_is_read_once_per_container(aws, monkeypatch):
    world = replay_world(monkeypatch, rate=1)
    reads = []
    original = replaying.read_test_data
    monkeypatch.setattr(
        replaying, "read_test_data", lambda *a, **k: reads.append(1) or original(*a, **k)
    )
    for _ in range(3):
        run_round(world, FakeRuntime(world, [VARIANT]))
    assert len(reads) == 1
