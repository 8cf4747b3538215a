"""guardrails/services/sts.py: clients acting as a role, in the role's own account."""

from __future__ import annotations

import boto3
from moto import mock_aws

from guardrails.services.clients import RETRY_CONFIG
from guardrails.services.sts import AssumedRole

ROLE = "arn:aws:iam::333333333333:role/guardrails-prod-release-access-us-east-1"


@mock_aws
def test_clients_act_as_the_role_with_the_session_name():
    role = AssumedRole(
        boto3.client("sts", region_name="us-east-1"), ROLE, "guardrails-package-state"
    )
    identity = role.client("sts").get_caller_identity()
    assert identity["Account"] == "333333333333"
    assert identity["Arn"] == (
        "arn:aws:sts::333333333333:assumed-role/"
        "guardrails-prod-release-access-us-east-1/guardrails-package-state"
    )


@mock_aws
def test_what_a_client_creates_is_in_the_roles_account_not_the_callers():
    role = AssumedRole(boto3.client("sts", region_name="us-east-1"), ROLE, "setup")
    role.client("sns").create_topic(Name="on-call")
    assert boto3.client("sns", region_name="us-east-1").list_topics()["Topics"] == []
    (topic,) = role.client("sns").list_topics()["Topics"]
    assert ":333333333333:on-call" in topic["TopicArn"]
    assert role.client("sns").meta.config.retries == RETRY_CONFIG.retries
