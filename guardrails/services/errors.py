"""What AWS errors mean for the steps: a missing resource, or a pause worth retrying."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

# Errors botocore already retried that are still worth another go after a pause.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
    }
)


class TransientError(RuntimeError):
    """A throttled or briefly unavailable AWS call; Step Functions retries the step."""


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: ClientError) -> bool:
    """A named resource does not exist, as SageMaker and CloudFormation say it.

    Both use a validation error rather than a not-found code: SageMaker a ValidationException
    ("Could not find endpoint ..."), CloudFormation a ValidationError ("Stack with id ... does
    not exist").
    """
    message = str(error.response.get("Error", {}).get("Message", ""))
    return error_code(error) in ("ValidationException", "ValidationError") and (
        "Could not find" in message or "does not exist" in message
    )


@contextmanager
def transient_errors() -> Iterator[None]:
    """Throttling that outlasted botocore's retries, as TransientError for Step Functions."""
    try:
        yield
    except ClientError as error:
        if error_code(error) in TRANSIENT_CODES:
            raise TransientError(str(error)) from error
        raise
