//! EventBridge events → the smallest scope worth re-auditing.
//!
//! The `on-change` function receives every event its rules match: CloudTrail API calls for ENIs,
//! IP assignment, routes, route table associations, peering and VPC CIDRs; EKS add-on and
//! cluster version changes; instance state changes and Auto Scaling launches; and Kubernetes
//! events forwarded by kubernetes-event-exporter. Each maps to the objects it names (ENI →
//! instance → cluster; route table, peering or CIDR → VPC → its clusters; add-on → cluster;
//! pod event → cluster), which the collector resolves with a lookup or two. A call that failed
//! (`errorCode`) changed nothing and is ignored; an event whose objects are gone (a deleted ENI,
//! a detached ENI's attachment, a removed association) names them as such, for `on-change` to
//! find their cluster among the clusters' owned ids (`crate::owners`). Anything else is rejected with
//! [`EventError`], which the function reports as a typed error so the DLQ records it.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::scope::Scope;

/// What to do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Re-audit this scope, because of `why`.
    Audit { scope: Scope, why: String },
    /// Nothing to do, because of the reason given (logged).
    Ignore(String),
}

/// An event the function cannot act on.
#[derive(Debug, Error)]
pub enum EventError {
    #[error("not an EventBridge event: {0}")]
    NotAnEvent(#[source] serde_json::Error),
    #[error("unsupported event: source `{origin}`, detail-type `{detail_type}`")]
    Unsupported { origin: String, detail_type: String },
    #[error("{origin}/{event}: `{field}` is missing from the event")]
    MissingField {
        origin: String,
        event: String,
        field: &'static str,
    },
}

impl EventError {
    /// The error type reported to the Lambda service (and recorded in the DLQ).
    pub fn error_type(&self) -> &'static str {
        match self {
            EventError::NotAnEvent(_) => "podreach.MalformedEvent",
            EventError::Unsupported { .. } => "podreach.UnsupportedEvent",
            EventError::MissingField { .. } => "podreach.IncompleteEvent",
        }
    }
}

/// The part of a CloudTrail record podreach reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiCall {
    event_source: String,
    event_name: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    request_parameters: Option<Value>,
    #[serde(default)]
    response_elements: Option<Value>,
}

impl ApiCall {
    fn field(&self, path: &[&str]) -> Option<String> {
        [&self.request_parameters, &self.response_elements]
            .into_iter()
            .flatten()
            .find_map(|root| text_at(root, path))
    }

    fn need(&self, path: &[&str], field: &'static str) -> Result<String, EventError> {
        self.field(path).ok_or_else(|| EventError::MissingField {
            origin: self.event_source.clone(),
            event: self.event_name.clone(),
            field,
        })
    }
}

/// The prefixes of the ids of the objects verdicts read (`sg-` is not `sgr-`, a rule's id).
const INPUT_PREFIXES: [&str; 9] = [
    "sg-",
    "acl-",
    "aclassoc-",
    "pl-",
    "vpc-cidr-assoc-",
    "vpc-",
    "tgw-attach-",
    "tgw-rtb-",
    "tgw-",
];

/// Every id of an input object in the request and the response (which often names the VPC
/// the change is in: `DisassociateVpcCidrBlock` names only the association in its request),
/// sorted, once each.
fn input_ids(call: &ApiCall) -> Vec<String> {
    fn walk(value: &Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::String(s) if INPUT_PREFIXES.iter().any(|p| s.starts_with(p)) => {
                out.insert(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(fields) => fields.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut ids = std::collections::BTreeSet::new();
    for root in [&call.request_parameters, &call.response_elements]
        .into_iter()
        .flatten()
    {
        walk(root, &mut ids);
    }
    ids.into_iter().collect()
}

fn text_at(root: &Value, path: &[&str]) -> Option<String> {
    let value = path.iter().try_fold(root, |v, key| v.get(key))?;
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Decides what an event means. `event` is the raw JSON the Lambda runtime delivered.
pub fn decide(event: &Value) -> Result<Decision, EventError> {
    let envelope: EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(EventError::NotAnEvent)?;
    let source = envelope.source.clone();
    let detail_type = envelope.detail_type.clone();
    let unsupported = || EventError::Unsupported {
        origin: source.clone(),
        detail_type: detail_type.clone(),
    };
    let detail = envelope.detail;
    match detail_type.as_str() {
        "AWS API Call via CloudTrail" => {
            let call: ApiCall = serde_json::from_value(detail).map_err(EventError::NotAnEvent)?;
            api_call(&call)
        }
        "EC2 Instance State-change Notification" | "EC2 Instance Launch Successful" => {
            let id = ["instance-id", "EC2InstanceId"]
                .iter()
                .find_map(|k| text_at(&detail, &[k]))
                .ok_or_else(|| EventError::MissingField {
                    origin: source.clone(),
                    event: detail_type.clone(),
                    field: "instance-id",
                })?;
            Ok(Decision::Audit {
                why: format!("{detail_type}: {id}"),
                scope: Scope::Instances(vec![id]),
            })
        }
        "Kubernetes Event" if source.starts_with("kubernetes-event-exporter") => {
            // kubernetes-event-exporter always writes `clusterName` ("" when unset); the rule's
            // source `kubernetes-event-exporter.<cluster>` names the cluster otherwise.
            let cluster = text_at(&detail, &["clusterName"])
                .or_else(|| {
                    source
                        .strip_prefix("kubernetes-event-exporter.")
                        .map(str::to_owned)
                })
                .ok_or_else(|| EventError::MissingField {
                    origin: source.clone(),
                    event: detail_type.clone(),
                    field: "clusterName",
                })?;
            let reason = text_at(&detail, &["reason"]).unwrap_or_default();
            let object = text_at(&detail, &["involvedObject", "name"]).unwrap_or_default();
            Ok(Decision::Audit {
                why: format!("Kubernetes event {reason} for {object} in {cluster}"),
                scope: Scope::Clusters(vec![cluster]),
            })
        }
        "Scheduled Event" => Ok(Decision::Audit {
            why: "scheduled audit".to_owned(),
            scope: Scope::AllClusters,
        }),
        _ => Err(unsupported()),
    }
}

/// A CloudTrail API call.
fn api_call(call: &ApiCall) -> Result<Decision, EventError> {
    let name = call.event_name.as_str();
    if let Some(code) = &call.error_code {
        return Ok(Decision::Ignore(format!(
            "{name} failed ({code}): nothing changed"
        )));
    }
    let audit = |scope: Scope, object: String| Decision::Audit {
        why: format!("{name} on {object}"),
        scope,
    };
    Ok(match (call.event_source.as_str(), name) {
        ("ec2.amazonaws.com", "AttachNetworkInterface") => {
            let instance = call.need(&["instanceId"], "instanceId")?;
            audit(Scope::Instances(vec![instance.clone()]), instance)
        }
        ("ec2.amazonaws.com", "CreateNetworkInterface") => {
            let eni = call.need(
                &["networkInterface", "networkInterfaceId"],
                "networkInterface.networkInterfaceId",
            )?;
            audit(Scope::Enis(vec![eni.clone()]), eni)
        }
        (
            "ec2.amazonaws.com",
            "AssignPrivateIpAddresses"
            | "UnassignPrivateIpAddresses"
            | "ModifyNetworkInterfaceAttribute",
        ) => {
            let eni = call.need(&["networkInterfaceId"], "networkInterfaceId")?;
            audit(Scope::Enis(vec![eni.clone()]), eni)
        }
        // Gone by the time the event arrives: only the clusters' owned ids (`crate::owners`)
        // can name the cluster.
        ("ec2.amazonaws.com", "DeleteNetworkInterface") => {
            let eni = call.need(&["networkInterfaceId"], "networkInterfaceId")?;
            audit(Scope::DeletedEnis(vec![eni.clone()]), eni)
        }
        ("ec2.amazonaws.com", "DetachNetworkInterface") => {
            let attachment = call.need(&["attachmentId"], "attachmentId")?;
            audit(Scope::Attachments(vec![attachment.clone()]), attachment)
        }
        (
            "ec2.amazonaws.com",
            "CreateRoute"
            | "ReplaceRoute"
            | "DeleteRoute"
            | "AssociateRouteTable"
            | "ReplaceRouteTableAssociation",
        ) => {
            let table = call.need(&["routeTableId"], "routeTableId")?;
            audit(Scope::RouteTables(vec![table.clone()]), table)
        }
        ("ec2.amazonaws.com", "DisassociateRouteTable") => {
            let association = call.need(&["associationId"], "associationId")?;
            audit(Scope::Associations(vec![association.clone()]), association)
        }
        ("ec2.amazonaws.com", "CreateVpcPeeringConnection") => {
            let vpc = call.need(&["vpcId"], "vpcId")?;
            let mut vpcs = vec![vpc.clone()];
            vpcs.extend(call.field(&["peerVpcId"]));
            audit(Scope::Vpcs(vpcs), vpc)
        }
        ("ec2.amazonaws.com", "AcceptVpcPeeringConnection" | "DeleteVpcPeeringConnection") => {
            let pcx = call.need(&["vpcPeeringConnectionId"], "vpcPeeringConnectionId")?;
            audit(Scope::Peerings(vec![pcx.clone()]), pcx)
        }
        ("ec2.amazonaws.com", "AssociateVpcCidrBlock") => {
            let vpc = call.need(&["vpcId"], "vpcId")?;
            audit(Scope::Vpcs(vec![vpc.clone()]), vpc)
        }
        // The filters and the paths beyond the VPC: every input that decides a verdict. The
        // calls name their objects in different shapes (`groupId`; the newer APIs nest a
        // `…Request` with `TransitGatewayRouteTableId`), so the ids are read by their prefixes
        // wherever they sit in the request.
        (
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress"
            | "AuthorizeSecurityGroupEgress"
            | "RevokeSecurityGroupIngress"
            | "RevokeSecurityGroupEgress"
            | "ModifySecurityGroupRules"
            | "CreateNetworkAclEntry"
            | "ReplaceNetworkAclEntry"
            | "DeleteNetworkAclEntry"
            | "ReplaceNetworkAclAssociation"
            | "ModifyManagedPrefixList"
            | "DisassociateVpcCidrBlock"
            | "CreateTransitGatewayVpcAttachment"
            | "ModifyTransitGatewayVpcAttachment"
            | "DeleteTransitGatewayVpcAttachment"
            | "CreateTransitGatewayRoute"
            | "ReplaceTransitGatewayRoute"
            | "DeleteTransitGatewayRoute"
            | "AssociateTransitGatewayRouteTable"
            | "DisassociateTransitGatewayRouteTable"
            | "EnableTransitGatewayRouteTablePropagation"
            | "DisableTransitGatewayRouteTablePropagation",
        ) => {
            let ids = input_ids(call);
            if ids.is_empty() {
                return Err(EventError::MissingField {
                    origin: call.event_source.clone(),
                    event: name.to_owned(),
                    field: "an sg-, acl-, pl-, vpc- or tgw- id",
                });
            }
            let object = ids.join(", ");
            audit(Scope::Inputs(ids), object)
        }
        ("eks.amazonaws.com", "CreateAddon" | "UpdateAddon" | "DeleteAddon") => {
            let addon = call.field(&["addonName"]).unwrap_or_default();
            if !addon.is_empty() && addon != "vpc-cni" {
                return Ok(Decision::Ignore(format!(
                    "{name} of add-on `{addon}`: only vpc-cni matters"
                )));
            }
            let cluster = call
                .field(&["clusterName"])
                .or_else(|| call.field(&["addon", "clusterName"]))
                .or_else(|| call.field(&["name"]))
                .ok_or_else(|| EventError::MissingField {
                    origin: call.event_source.clone(),
                    event: name.to_owned(),
                    field: "clusterName",
                })?;
            audit(Scope::Clusters(vec![cluster.clone()]), cluster)
        }
        ("eks.amazonaws.com", "UpdateClusterVersion") => {
            let cluster = call
                .field(&["name"])
                .or_else(|| call.field(&["clusterName"]))
                .ok_or_else(|| EventError::MissingField {
                    origin: call.event_source.clone(),
                    event: name.to_owned(),
                    field: "name",
                })?;
            audit(Scope::Clusters(vec![cluster.clone()]), cluster)
        }
        (source, _) => Decision::Ignore(format!(
            "{source} {name} does not change what podreach analyses"
        )),
    })
}
