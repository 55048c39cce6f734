"""fake_kube: the Kubernetes API of fake EKS clusters, and an EKS API proxy in front of moto, for
podreach's end-to-end tests.

podreach reads a cluster's pods, nodes, the `aws-node` DaemonSet and ENIConfigs from the
Kubernetes API, after finding the API server through EKS DescribeCluster. moto answers EKS but has
no Kubernetes API; this server supplies one per registered cluster, speaking the real protocols
closely enough that the unmodified kube-rs client of podreach, and kubectl, work against it:

    python tests/kube/fake_kube --moto http://127.0.0.1:PORT [--parent-pid PID]
    -> stdout: {"control": "http://127.0.0.1:X", "eks": "http://127.0.0.1:Y"}

What it reproduces, and from where:

- Authentication as EKS does it (auth.py). Bearer tokens in aws-iam-authenticator's format
  (github.com/kubernetes-sigs/aws-iam-authenticator, pkg/token/token.go: `k8s-aws-v1.` +
  base64url of a presigned STS GetCallerIdentity URL; host, path, parameter whitelist,
  `x-k8s-aws-id` signed, expiry), with the SigV4 query signature verified here against the
  cluster's credential table instead of being forwarded to STS. Identities map through EKS access
  entries (assumed-role ARN -> role ARN) and/or the aws-auth mapping according to the cluster's
  authentication mode; client certificates (CN = user, O = groups) when enabled. Failures are
  kube-apiserver's 401 Status.
- Authorisation (rbac.py): RBAC Roles/ClusterRoles/bindings evaluated like the RBAC authorizer,
  EKS access policies (ClusterAdmin, AdminView, View, SecretReader, as the EKS User Guide lists
  their rules), 403 Status bodies with responsewriters.Forbidden's exact message.
- The API surface (kube.py, store.py, resources.py): discovery documents, list/get/patch of pods,
  nodes, namespaces, configmaps, secrets, services, daemonsets, deployments, replicasets and the
  VPC CNI's ENIConfig CRD (served only while installed, else 404 like an absent CRD). Request
  info and verbs per k8s.io/apiserver RequestInfoFactory; list chunking (`limit`/`continue`,
  `remainingItemCount`, 410 Expired for a stale token, 400 for a malformed one) per the etcd3
  store's GetList; field selectors limited to each type's field labels; label selectors;
  responses over 128 KiB gzipped for clients that accept it (APIResponseCompression); list items
  without kind/apiVersion, single objects with them.
- PATCH (patch.py): JSON patch, JSON merge patch, and the strategic-merge-patch subset kubectl
  sends (lists merged on their patchMergeKey, `$setElementOrder`, `$patch`, `$retainKeys`);
  resourceVersion/generation bumps and the DaemonSet template generation like the registry
  strategies; 415 for strategic merge on a custom resource.
- Scale (synthetic.py): a generated pod list of any size, realistic EKS pod JSON rendered page by
  page from templates, for benchmarks of 5,000 nodes x 30 pods.
- The EKS proxy (eks.py): moto's answers, with DescribeCluster pointing at the fake API server
  and DescribeAddon answered from the registration.
- Failure modes: endpoints that hang or refuse, injected status codes, expired continue tokens,
  delays (control.py, cluster.py).

The control API (control.py) registers clusters and replaces their objects, access and faults;
the registry in cluster.py is the process's only mutable state. `--self-test` checks the token
verifier against botocore's signer and the wire shapes tests rely on. tests/kube/
check_with_kubectl.sh proves the whole against a real kubectl.
"""
