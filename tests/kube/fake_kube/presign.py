"""Client side of an EKS token, made with botocore as `aws eks get-token` makes it: a presigned
STS GetCallerIdentity GET with the `x-k8s-aws-id` header signed in. Used by the self-test, the
kubectl check script and its exec credential plugin; the server never uses it."""

from __future__ import annotations

import base64


def make_token(cluster: str, access_key_id: str, secret_access_key: str,
               session_token: str | None = None, region: str = "us-east-1",
               expires: int = 60) -> str:
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(method="GET", url=url, headers={"x-k8s-aws-id": cluster})
    credentials = Credentials(access_key_id, secret_access_key, session_token)
    SigV4QueryAuth(credentials, "sts", region, expires=expires).add_auth(request)
    return "k8s-aws-v1." + base64.urlsafe_b64encode(request.url.encode()).decode().rstrip("=")


def exec_credential(token: str) -> dict:
    """What a client-go exec credential plugin prints (client.authentication.k8s.io/v1beta1)."""
    return {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1",
            "spec": {}, "status": {"token": token}}


if __name__ == "__main__":
    # python -m fake_kube.presign CLUSTER  (credentials from AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN): prints an ExecCredential, for kubeconfig `exec`.
    import json
    import os
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m fake_kube.presign CLUSTER_NAME")
    try:
        token = make_token(sys.argv[1], os.environ["AWS_ACCESS_KEY_ID"],
                           os.environ["AWS_SECRET_ACCESS_KEY"], os.environ.get("AWS_SESSION_TOKEN"),
                           os.environ.get("AWS_REGION", "us-east-1"))
    except KeyError as missing:
        sys.exit(f"fake_kube.presign: {missing} is not set")
    print(json.dumps(exec_credential(token)))
