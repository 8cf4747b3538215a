"""The ECR registries of SageMaker's built-in algorithm images (XGBoost, scikit-learn), by region.

Models and pipeline jobs pull these images from an AWS-owned account that differs per region, so
their roles name that account's repositories instead of every repository in the region. The
table is data taken from the SageMaker Python SDK's image URI config (`image_uri_config/
xgboost.json`, the version pipelines/definition.py trains with; scikit-learn's table is the same);
tests/infra/test_image_registries.py checks it against the installed SDK.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from constructs import Construct

from guardrails.validation import ConfigError

XGBOOST_REPOSITORY = "sagemaker-xgboost"
SCIKIT_LEARN_REPOSITORY = "sagemaker-scikit-learn"
BUILT_IN_ALGORITHM_ACCOUNTS = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "ca-west-1": "190319476487",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-iso-east-1": "833128469047",
    "us-isob-east-1": "281123927165",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}
_MAPPING_ID = "BuiltInAlgorithmRegistries"


def built_in_algorithm_repositories(scope: Construct, names: Sequence[str]) -> list[str]:
    """ARNs of the named built-in algorithm repositories in the region of `scope`'s stack.

    A stack with an explicit region gets literal ARNs (ConfigError for a region the table does
    not know); an environment-agnostic one looks the account up at deploy time.
    """
    stack = cdk.Stack.of(scope)
    region = stack.region
    if cdk.Token.is_unresolved(region):
        mapping = stack.node.try_find_child(_MAPPING_ID)
        if mapping is None:
            mapping = cdk.CfnMapping(
                stack,
                _MAPPING_ID,
                mapping={
                    name: {"account": account}
                    for name, account in BUILT_IN_ALGORITHM_ACCOUNTS.items()
                },
            )
        assert isinstance(mapping, cdk.CfnMapping)
        account = mapping.find_in_map(region, "account")
    elif region in BUILT_IN_ALGORITHM_ACCOUNTS:
        account = BUILT_IN_ALGORITHM_ACCOUNTS[region]
    else:
        raise ConfigError(
            "region",
            "SageMaker's built-in XGBoost images are not published there, as far as the "
            f"SageMaker SDK's table in image_registries.py knows (got {region!r})",
        )
    return [f"arn:{stack.partition}:ecr:{region}:{account}:repository/{name}" for name in names]
