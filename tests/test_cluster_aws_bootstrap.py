"""cluster.yaml through Ray's own AWS bootstrap, against moto's EC2/IAM (in-process, no network):
the head keeps our profile (Ray's EC2 rights + the bucket + iam:PassRole on the worker role),
workers launch with theirs (the bucket), as ``python -m sweeps.aws_iam`` makes them."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def aws(monkeypatch, tmp_path):
    pytest.importorskip("moto")
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # in-process mocks, not the S3 server
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AmazonEC2FullAccess exists on AWS
    with mock_aws():
        yield


@pytest.mark.slow  # ~30 s: moto loads every AWS managed policy
def test_ray_bootstrap_keeps_our_profiles_and_workers_launch_with_theirs(aws, tmp_path):
    import boto3
    from ray.autoscaler._private.aws.config import bootstrap_aws
    from ray.autoscaler._private.aws.node_provider import AWSNodeProvider
    from ray.autoscaler._private.util import prepare_config

    from sweeps.aws_iam import EC2_FULL, create_profiles

    iam, ec2 = boto3.client("iam"), boto3.client("ec2", region_name="us-west-2")
    arns = create_profiles("sweep-bucket", iam=iam)
    assert create_profiles("sweep-bucket", iam=iam) == arns  # idempotent
    cfg = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    types = cfg["available_node_types"]
    # as shipped: both types name the profiles sweeps.aws_iam makes (only the account differs)
    assert types["head"]["node_config"]["IamInstanceProfile"]["Arn"].endswith("/dllm-sweeps-head")
    assert types["gpu_worker"]["node_config"]["IamInstanceProfile"]["Arn"].endswith("/dllm-sweeps-worker")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]  # resolve:ssm is EC2's, not moto's
    ec2.create_key_pair(KeyName="sweep")
    (tmp_path / "k.pem").write_text("not a key")
    cfg["auth"]["ssh_private_key"] = str(tmp_path / "k.pem")  # else Ray writes a key under ~/.ssh
    for name, t in types.items():
        t["node_config"].update(ImageId=ami, KeyName="sweep",
                                IamInstanceProfile={"Arn": arns[f"{'head' if name == 'head' else 'worker'}_profile"]})
    out = bootstrap_aws(prepare_config(copy.deepcopy(cfg)))
    got = {k: v["node_config"]["IamInstanceProfile"]["Arn"] for k, v in out["available_node_types"].items()}
    assert got == {"head": arns["head_profile"], "gpu_worker": arns["worker_profile"]}  # not Ray's default

    # A worker launched the way the autoscaler does it carries the worker profile.
    provider = AWSNodeProvider(out["provider"], out["cluster_name"])
    provider.create_node(out["available_node_types"]["gpu_worker"]["node_config"],
                         {"ray-node-type": "worker", "ray-user-node-type": "gpu_worker"}, 1)
    inst = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert [i["IamInstanceProfile"]["Arn"] for i in inst] == [arns["worker_profile"]]

    # The rights: head = Ray's EC2 rights + bucket + PassRole on the worker role only; worker = bucket.
    head_pol = {p: json.loads(json.dumps(iam.get_role_policy(RoleName="dllm-sweeps-head", PolicyName=p)["PolicyDocument"]))
                for p in iam.list_role_policies(RoleName="dllm-sweeps-head")["PolicyNames"]}
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="dllm-sweeps-head")["AttachedPolicies"]]
    assert attached == [EC2_FULL]
    assert head_pol["pass-worker-role"]["Statement"] == [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arns["worker_role"]}]
    worker_pol = iam.get_role_policy(RoleName="dllm-sweeps-worker", PolicyName="sweep-bucket")["PolicyDocument"]
    resources = {r for s in worker_pol["Statement"] for r in [s["Resource"]]}
    assert resources == {"arn:aws:s3:::sweep-bucket", "arn:aws:s3:::sweep-bucket/*"}
    assert not iam.list_attached_role_policies(RoleName="dllm-sweeps-worker")["AttachedPolicies"]
