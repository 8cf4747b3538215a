"""Test-wide setup: a Node >= 22 for jsii, and no real AWS credentials or network."""

from __future__ import annotations

import os

from tools.node_bin import node_bin_dir

# jsii starts Node on first import of aws_cdk; it must find a supported one.
os.environ["PATH"] = f"{node_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_RELEASE", "1")

# Any boto3 client made in tests talks to moto or a Stubber, never to a real account.
for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[name] = value
os.environ.pop("AWS_PROFILE", None)
