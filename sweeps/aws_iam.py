"""IAM for ``cluster.yaml``: the two instance profiles a sweep cluster needs (issue 27).

Ray's ``ray up`` gives the head node a default role (EC2 and S3 full access) and the workers
nothing, so workers cannot write shards to S3.  Giving the head a profile of your own replaces
Ray's default (it then needs EC2 rights itself), and launching workers with a profile needs
``iam:PassRole`` for the workers' role.  This makes both, once per account::

    python -m sweeps.aws_iam --bucket YOUR-BUCKET          # prints the two ARNs for cluster.yaml

- ``<prefix>-worker``: read/write on the bucket (shards, status, weights copy), nothing else;
- ``<prefix>-head``: Ray's rights (AmazonEC2FullAccess: launch and stop nodes), the same bucket
  rights (the driver runs there) and ``iam:PassRole`` on the worker role only.

Idempotent: existing roles and profiles are reused and their policies rewritten.
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Optional, Sequence

EC2_FULL = "arn:aws:iam::aws:policy/AmazonEC2FullAccess"
_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def bucket_policy(bucket: str) -> dict[str, Any]:
    """Read/write on one bucket: list it, get/put/delete objects, finish or abort uploads."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                       "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}


def _role_and_profile(iam: Any, name: str) -> tuple[str, str]:
    """(role ARN, instance profile ARN) named ``name``; created when absent."""
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_TRUST))["Role"]
    try:
        prof = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except iam.exceptions.NoSuchEntityException:
        prof = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    if not any(r["RoleName"] == name for r in prof.get("Roles", [])):
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return role["Arn"], prof["Arn"]


def create_profiles(bucket: str, prefix: str = "dllm-sweeps", iam: Optional[Any] = None) -> dict[str, str]:
    """Create (or update) the head and worker profiles; returns their ARNs and the roles'."""
    import boto3

    iam = iam or boto3.client("iam")
    worker_role, worker_profile = _role_and_profile(iam, f"{prefix}-worker")
    iam.put_role_policy(RoleName=f"{prefix}-worker", PolicyName="sweep-bucket",
                        PolicyDocument=json.dumps(bucket_policy(bucket)))
    head_role, head_profile = _role_and_profile(iam, f"{prefix}-head")
    iam.attach_role_policy(RoleName=f"{prefix}-head", PolicyArn=EC2_FULL)
    iam.put_role_policy(RoleName=f"{prefix}-head", PolicyName="sweep-bucket",
                        PolicyDocument=json.dumps(bucket_policy(bucket)))
    iam.put_role_policy(RoleName=f"{prefix}-head", PolicyName="pass-worker-role", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": worker_role}]}))
    return {"head_profile": head_profile, "worker_profile": worker_profile,
            "head_role": head_role, "worker_role": worker_role}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", default="dllm-sweeps", help="role/profile name prefix")
    a = p.parse_args(argv)
    arns = create_profiles(a.bucket, a.prefix)
    print("# cluster.yaml, available_node_types:")
    print(f"#   head.node_config.IamInstanceProfile:       {{Arn: {arns['head_profile']}}}")
    print(f"#   gpu_worker.node_config.IamInstanceProfile: {{Arn: {arns['worker_profile']}}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
