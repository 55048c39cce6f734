//! Pods as the Kubernetes API lists them, generated: what the pod index is measured on.
//!
//! Each item is shaped like a real EKS list item of a Deployment's pod (no `kind`; metadata with
//! generateName, labels, an owner reference, `managedFields` of the controller manager and the
//! kubelet; a container with ports, resources, env and a service-account token mount; status
//! with conditions and container statuses): about 4 KB of JSON, so the parser skips what a real
//! page makes it skip. Deterministic: pod `i` is always the same.

/// One page's `items` array text for pods `first..first + count` on `nodes` nodes.
pub fn page(first: usize, count: usize, nodes: usize) -> String {
    let mut out = String::with_capacity(count * 4200 + 64);
    out.push_str(
        r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":["#,
    );
    for i in first..first + count {
        if i > first {
            out.push(',');
        }
        out.push_str(&pod(i, nodes));
    }
    out.push_str("]}");
    out
}

fn pod(i: usize, nodes: usize) -> String {
    let node = i % nodes;
    let namespace = format!("team-{:02}", (i / 7) % 40);
    let deployment = format!("svc-{:03}", (i / 3) % 800);
    let hash = format!("{:09x}", (i / 3) % 800 * 7919 + 0x5d9f8c7b6);
    let suffix: String = (0..5)
        .map(|k| char::from(b"bcdfghjklmnpqrstvwxz2456789"[(i * 31 + k * 7) % 27]))
        .collect();
    let name = format!("{deployment}-{hash}-{suffix}");
    let ip = format!("10.{}.{}.{}", 16 + (i >> 16) % 200, (i >> 8) & 255, i & 255);
    let host = format!(
        "10.{}.{}.{}",
        8 + (node >> 16) % 8,
        (node >> 8) & 255,
        node & 255
    );
    let node_name = format!("ip-{}.eu-west-1.compute.internal", host.replace('.', "-"));
    format!(
        r#"{{"metadata":{{"name":"{name}","generateName":"{deployment}-{hash}-","namespace":"{namespace}","uid":"6f3c2a1b-0d9e-4f8a-b7c6-{i:012x}","resourceVersion":"{rv}","creationTimestamp":"2026-11-02T08:14:21Z","labels":{{"app.kubernetes.io/name":"{deployment}","app.kubernetes.io/part-of":"{namespace}","pod-template-hash":"{hash}"}},"annotations":{{"kubectl.kubernetes.io/restartedAt":"2026-11-01T10:00:00Z"}},"ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"{deployment}-{hash}","uid":"0a1b2c3d-4e5f-4a6b-8c7d-{h:012x}","controller":true,"blockOwnerDeletion":true}}],"managedFields":[{{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-11-02T08:14:21Z","fieldsType":"FieldsV1","fieldsV1":{{"f:metadata":{{"f:generateName":{{}},"f:labels":{{".":{{}},"f:app.kubernetes.io/name":{{}},"f:pod-template-hash":{{}}}},"f:ownerReferences":{{".":{{}},"k:{{\"uid\":\"0a1b2c3d\"}}":{{}}}}}},"f:spec":{{"f:containers":{{"k:{{\"name\":\"app\"}}":{{".":{{}},"f:env":{{}},"f:image":{{}},"f:ports":{{}},"f:resources":{{}}}}}},"f:dnsPolicy":{{}},"f:restartPolicy":{{}}}}}}}},{{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"2026-11-02T08:14:45Z","fieldsType":"FieldsV1","fieldsV1":{{"f:status":{{"f:conditions":{{}},"f:containerStatuses":{{}},"f:hostIP":{{}},"f:hostIPs":{{}},"f:phase":{{}},"f:podIP":{{}},"f:podIPs":{{}},"f:startTime":{{}}}}}},"subresource":"status"}}]}},"spec":{{"containers":[{{"name":"app","image":"111122223333.dkr.ecr.eu-west-1.amazonaws.com/{deployment}:2026.11.{n}","ports":[{{"containerPort":8080,"name":"http","protocol":"TCP"}}],"env":[{{"name":"PORT","value":"8080"}},{{"name":"LOG_LEVEL","value":"info"}},{{"name":"POD_NAME","valueFrom":{{"fieldRef":{{"apiVersion":"v1","fieldPath":"metadata.name"}}}}}},{{"name":"POD_IP","valueFrom":{{"fieldRef":{{"apiVersion":"v1","fieldPath":"status.podIP"}}}}}}],"resources":{{"limits":{{"memory":"512Mi"}},"requests":{{"cpu":"250m","memory":"256Mi"}}}},"volumeMounts":[{{"name":"kube-api-access-{suffix}","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default","nodeName":"{node_name}","securityContext":{{}},"schedulerName":"default-scheduler","tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}},{{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority","volumes":[{{"name":"kube-api-access-{suffix}","projected":{{"sources":[{{"serviceAccountToken":{{"expirationSeconds":3607,"path":"token"}}}},{{"configMap":{{"name":"kube-root-ca.crt","items":[{{"key":"ca.crt","path":"ca.crt"}}]}}}}],"defaultMode":420}}}}]}},"status":{{"phase":"Running","conditions":[{{"type":"PodReadyToStartContainers","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-02T08:14:30Z"}},{{"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-02T08:14:21Z"}},{{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-02T08:14:45Z"}},{{"type":"ContainersReady","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-02T08:14:45Z"}},{{"type":"PodScheduled","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-02T08:14:21Z"}}],"hostIP":"{host}","hostIPs":[{{"ip":"{host}"}}],"podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"startTime":"2026-11-02T08:14:21Z","containerStatuses":[{{"name":"app","state":{{"running":{{"startedAt":"2026-11-02T08:14:44Z"}}}},"lastState":{{}},"ready":true,"restartCount":0,"image":"111122223333.dkr.ecr.eu-west-1.amazonaws.com/{deployment}:2026.11.{n}","imageID":"111122223333.dkr.ecr.eu-west-1.amazonaws.com/{deployment}@sha256:{i:064x}","containerID":"containerd://{i:064x}","started":true}}],"qosClass":"Burstable"}}}}"#,
        rv = 1_000_000 + i,
        h = (i / 3) % 800,
        n = i % 9,
    )
}
