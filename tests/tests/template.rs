//! The SAM template `infra/template.yaml` is valid, least-privilege and wired as documented.
//!
//! cfn-lint (pinned in `scripts/requirements-test.txt`, installed into `<repo>/.venv` by
//! `scripts/install-test-deps.sh`) must report nothing at all. The other tests read the template
//! as data: YAML with CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`, …) is converted to
//! the long JSON form (`{"Ref": …}`, `{"Fn::GetAtt": [..]}`), then checked for what cfn-lint does
//! not know about podreach: the managed policy is byte-for-byte the policy file users attach for
//! the CLI, no IAM action is a wildcard, findings are published only to the topic, every rule
//! targets the function it is meant for, failures end in the dead-letter queue, the optional
//! Slack channel can receive notifications but run nothing, the access entries put both function
//! roles in the group `infra/rbac.yaml` binds, and Lambda's VPC permissions exist only in a VPC.
//! Organization mode (the hub, `OrganizationMode=true`) adds its resources under one condition,
//! `IsOrganization`, and leaves the single-account stack as it was; it names the function roles as
//! `infra/member.yaml`'s member role trusts them, feeds the audit worker one target at a time from a
//! FIFO queue, and grants exactly the plan's, the queue's and the run's actions.

use std::collections::BTreeSet;
use std::process::Command;

use podreach_aws::function::FunctionConfig;
use podreach_aws::kube::KubeMode;
use podreach_tests::fail;
use podreach_tests::infra::{load_template, repo_root, resources, yaml_to_json};
use podreach_tests::kube::{READERS, project_rbac};
use serde_json::{Value, json};

/// The rules and the function each one invokes.
/// The rules and their one target: change events go to the debounce queue that OnChange reads
/// in batches; the schedule invokes ScheduledAudit directly.
const RULES: [(&str, &str); 6] = [
    ("Ec2NetworkChanges", "ChangeEventsQueue"),
    ("EksChanges", "ChangeEventsQueue"),
    ("InstanceStateChanges", "ChangeEventsQueue"),
    ("AutoScalingLaunches", "ChangeEventsQueue"),
    ("PodScaling", "ChangeEventsQueue"),
    ("Schedule", "ScheduledAudit"),
];

/// The functions: logical id, cargo binary, log group resource, role resource, timeout.
const FUNCTIONS: [(&str, &str, &str, &str, u64); 2] = [
    (
        "OnChange",
        "on-change",
        "OnChangeLogGroup",
        "OnChangeRole",
        120,
    ),
    (
        "ScheduledAudit",
        "scheduled-audit",
        "ScheduledAuditLogGroup",
        "ScheduledAuditRole",
        600,
    ),
];

/// Actions allowed on `Resource: "*"`: the read-only collection actions, all of which either
/// have no resource-level permissions (EC2 Describe, eks:ListClusters) or are kept unscoped in
/// the shared policy file (eks:DescribeCluster, eks:DescribeAddon, and
/// ec2:GetManagedPrefixListEntries, whose lists are known only from the route tables).
const STAR_RESOURCE_ACTIONS: [&str; 18] = [
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTransitGatewayRouteTables",
    "ec2:DescribeTransitGatewayVpcAttachments",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:GetManagedPrefixListEntries",
    "ec2:GetTransitGatewayRouteTableAssociations",
    "ec2:GetTransitGatewayRouteTablePropagations",
    "ec2:SearchTransitGatewayRoutes",
    "eks:ListClusters",
    "eks:DescribeAddon",
    "eks:DescribeCluster",
];

/// What the Lambda service does with the execution role to attach a function to its subnets
/// (the Hyperplane ENIs): exactly the EC2 actions of the AWS managed policy
/// AWSLambdaVPCAccessExecutionRole. Never podreach's own calls; allowed on `Resource: "*"` in
/// `LambdaVpcAccessPolicy` only, which exists only when the functions run in a VPC (`InVpc`).
const LAMBDA_VPC_ENI_ACTIONS: [&str; 6] = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
];

/// The one conditional policy with [`LAMBDA_VPC_ENI_ACTIONS`].
const LAMBDA_VPC_POLICY: &str = "LambdaVpcAccessPolicy";

/// The one statement that lets the functions read the far side in the accounts that own it.
const MEMBER_ROLE_POLICY: &str = "MemberRoleAssumePolicy";

/// The loop of the access entries: one per cluster in `ClusterNames` and function role.
const ACCESS_ENTRIES_LOOP: &str = "Fn::ForEach::ClusterAccessEntries";

/// The condition of organization mode (`OrganizationMode=true`, the hub).
const ORGANIZATION: &str = "IsOrganization";

/// What only organization mode creates, each under [`ORGANIZATION`].
const ORGANIZATION_RESOURCES: [&str; 7] = [
    "AuditQueue",
    "AuditDeadLetterQueue",
    "OrganizationPlanPolicy",
    "AuditWorkerRole",
    "AuditWorkerLogGroup",
    "AuditWorker",
    "OrganizationEventBusPolicy",
];

/// The hub's function roles and the names organization mode gives them, in the order of
/// `infra/member.yaml`'s `HubRoleNames`, whose trust policy selects them by position.
const HUB_ROLES: [(&str, &str); 3] = [
    ("OnChangeRole", "podreach-on-change"),
    ("ScheduledAuditRole", "podreach-scheduled-audit"),
    ("AuditWorkerRole", "podreach-audit-worker"),
];

/// The policy with which the scheduled audit plans an organization run.
const ORGANIZATION_PLAN_POLICY: &str = "OrganizationPlanPolicy";

/// The Organizations actions that have no resource type, so are granted on `Resource: "*"`, in
/// [`ORGANIZATION_PLAN_POLICY`] only.
const ORGANIZATIONS_STAR_ACTIONS: [&str; 2] =
    ["organizations:ListAccounts", "organizations:ListRoots"];

/// What organization mode adds to the state-table statement of the roles that plan and audit a
/// run: the run's targets written in batches, and the run record's counter.
const RUN_STATE_ACTIONS: [&str; 2] = [
    podreach_aws::iam::RUN_UPDATE,
    podreach_aws::iam::RUN_PLAN_WRITE,
];

/// The managed policies of `function`'s role: the shared read-only policy, Lambda's ENI
/// management only in a VPC, the member role only when one is named, and for the scheduled audit
/// the Security Hub import only when SecurityHub is true and the organization plan only in
/// organization mode. The audit worker has no Security Hub import: in organization mode each
/// account's findings are imported through its member role.
fn managed_policies(function: &str) -> Value {
    let mut managed = Vec::new();
    // The audit worker reads every target through its member role, never with its own.
    if function != "AuditWorker" {
        managed.push(json!({"Ref": "ReadOnlyCollectPolicy"}));
    }
    managed.extend([
        json!({"Fn::If": ["InVpc", {"Ref": LAMBDA_VPC_POLICY}, {"Ref": "AWS::NoValue"}]}),
        json!({"Fn::If": ["HasMemberRole", {"Ref": MEMBER_ROLE_POLICY}, {"Ref": "AWS::NoValue"}]}),
    ]);
    if function == "ScheduledAudit" {
        managed.push(json!({"Fn::If": ["HasSecurityHub", {"Ref": "SecurityHubImportPolicy"}, {"Ref": "AWS::NoValue"}]}));
        managed.push(json!({"Fn::If": [ORGANIZATION, {"Ref": ORGANIZATION_PLAN_POLICY}, {"Ref": "AWS::NoValue"}]}));
    }
    Value::Array(managed)
}

#[test]
fn cfn_lint_passes_on_the_template() {
    let root = repo_root();
    let cfn_lint = root.join(".venv/bin/cfn-lint");
    assert!(
        cfn_lint.is_file(),
        "{} is missing: run scripts/install-test-deps.sh (it installs the pinned cfn-lint into \
         <repo>/.venv; ./scripts/test runs it first)",
        cfn_lint.display()
    );
    let output = Command::new(&cfn_lint)
        .arg("--")
        .arg("infra/template.yaml")
        .arg("infra/forward-events.yaml")
        .arg("infra/member.yaml")
        .current_dir(&root)
        .output()
        .expect("cfn-lint starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "cfn-lint must report no error and no warning on infra/template.yaml, \
         infra/forward-events.yaml and infra/member.yaml \
         (exit status {}):\n{stdout}{stderr}",
        output.status
    );
}

#[test]
fn the_forwarder_sends_another_regions_changes_to_the_stacks_default_bus_by_the_stacks_patterns() {
    let hub = Template::load();
    let forwarder = podreach_tests::infra::load_infra("infra/forward-events.yaml");
    // Every rule of the stack that hears events (the schedule hears none).
    let mut expected: Vec<(&String, &Value)> = hub
        .resources_of_type("AWS::Events::Rule")
        .into_iter()
        .filter(|(_, rule)| rule["Properties"].get("EventPattern").is_some())
        .collect();
    expected.sort_by_key(|(name, _)| name.as_str());
    let mut forwarded: Vec<(&String, &Value)> = podreach_tests::infra::resources(&forwarder)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
        .collect();
    forwarded.sort_by_key(|(name, _)| name.as_str());
    let names = |rules: &[(&String, &Value)]| -> Vec<String> {
        rules.iter().map(|(n, _)| (*n).clone()).collect()
    };
    assert_eq!(
        names(&forwarded),
        names(&expected),
        "one forwarding rule per stack rule"
    );
    assert_eq!(
        expected.len(),
        5,
        "EC2, EKS, instance state, Auto Scaling, Kubernetes events"
    );
    let bus = |name: &str| {
        json!({"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:events:${{HubRegion}}:${{AWS::AccountId}}:event-bus/{name}"
        )})
    };
    for ((name, rule), (_, theirs)) in forwarded.iter().zip(&expected) {
        let p = &rule["Properties"];
        assert_eq!(
            p["EventPattern"], theirs["Properties"]["EventPattern"],
            "{name}'s pattern"
        );
        assert_eq!(p["State"], "ENABLED");
        // Each listens on this Region's bus of the same role as the stack's rule, and sends to
        // that bus of the stack's Region: the Kubernetes events from EventBusName to
        // HubEventBusName, the AWS services' events from default to default.
        let (listens, sends_to) = match theirs["Properties"].get("EventBusName") {
            Some(stack_bus) => {
                assert_eq!(stack_bus, &json!({"Ref": "EventBusName"}));
                (
                    Some(json!({"Ref": "EventBusName"})),
                    bus("${HubEventBusName}"),
                )
            }
            None => (None, bus("default")),
        };
        assert_eq!(p.get("EventBusName").cloned(), listens, "{name}'s bus");
        let targets = p["Targets"].as_array().expect("Targets");
        assert_eq!(targets.len(), 1, "{name}");
        assert_eq!(
            targets[0]["Arn"], sends_to,
            "{name} sends to the stack's bus"
        );
        assert_eq!(
            targets[0]["RoleArn"],
            json!({"Fn::GetAtt": ["ForwardRole", "Arn"]})
        );
    }
    // The role may put events on those two buses, and nothing else.
    let role = &forwarder["Resources"]["ForwardRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    let policies = role["Policies"].as_array().expect("Policies");
    assert_eq!(policies.len(), 1);
    assert_eq!(
        policies[0]["PolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": [bus("default"), bus("${HubEventBusName}")]
        }])
    );
}

#[test]
fn the_policy_file_grants_exactly_the_actions_the_collector_calls() {
    let text = std::fs::read_to_string(repo_root().join("infra/iam/podreach-read-only.json"))
        .expect("infra/iam/podreach-read-only.json is readable");
    let file: Value = serde_json::from_str(&text).expect("the policy file is JSON");
    let mut granted: Vec<String> = statements(&file).into_iter().flat_map(actions).collect();
    granted.sort();
    assert_eq!(
        granted,
        podreach_aws::iam::COLLECT_ACTIONS,
        "infra/iam/podreach-read-only.json and podreach_aws::iam::COLLECT_ACTIONS must list the same actions"
    );
}

#[test]
fn read_only_policy_in_template_equals_the_policy_file() {
    let template = Template::load();
    let file_text = std::fs::read_to_string(repo_root().join("infra/iam/podreach-read-only.json"))
        .expect("infra/iam/podreach-read-only.json is readable");
    let file: Value =
        serde_json::from_str(&file_text).expect("infra/iam/podreach-read-only.json is JSON");
    let policy = template.resource("ReadOnlyCollectPolicy");
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(
        policy["Properties"]["PolicyDocument"], file,
        "ReadOnlyCollectPolicy's PolicyDocument must be exactly infra/iam/podreach-read-only.json \
         (the policy users attach for the CLI); change both together"
    );
    // The file is read-only: every action describes, lists or gets.
    for statement in statements(&file) {
        assert_eq!(statement["Effect"], "Allow");
        for action in actions(statement) {
            let verb = action.split_once(':').map_or("", |(_, verb)| verb);
            assert!(
                // SearchTransitGatewayRoutes is a List-level action in AWS's service
                // authorization reference: it reads a route table.
                verb.starts_with("Describe")
                    || verb.starts_with("List")
                    || verb.starts_with("Get")
                    || verb == "SearchTransitGatewayRoutes",
                "the read-only policy grants {action}, which is not a Describe, List, Get or Search action"
            );
        }
    }
}

#[test]
fn no_wildcard_actions_and_publish_only_to_the_topic() {
    let template = Template::load();
    let mut publishers = BTreeSet::new();
    for (name, document) in template.policy_documents() {
        for statement in statements(document) {
            assert!(
                statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                "{name}: NotAction/NotResource grant everything else; name actions and resources"
            );
            if statement["Effect"] != "Allow" {
                continue;
            }
            let statement_actions = actions(statement);
            for action in &statement_actions {
                let (service, verb) = action
                    .split_once(':')
                    .unwrap_or_else(|| fail(&format!("{name}: {action} has no service prefix")));
                assert!(
                    !service.is_empty()
                        && !verb.is_empty()
                        && !action.contains('*')
                        && !action.contains('?'),
                    "{name}: action {action} is a wildcard; list the exact actions"
                );
            }
            let resources = as_list(&statement["Resource"]);
            if resources.iter().any(|r| *r == "*") {
                // Lambda's own ENI management and the Organizations listing have their expected
                // lists, each in its one policy.
                let allowed: &[&str] = if name == LAMBDA_VPC_POLICY {
                    &LAMBDA_VPC_ENI_ACTIONS
                } else if name == ORGANIZATION_PLAN_POLICY {
                    &ORGANIZATIONS_STAR_ACTIONS
                } else {
                    &STAR_RESOURCE_ACTIONS
                };
                for action in &statement_actions {
                    assert!(
                        allowed.contains(&action.as_str()),
                        "{name}: {action} is granted on Resource \"*\"; scope it to a resource"
                    );
                }
            }
            if statement_actions.iter().any(|a| a.starts_with("sns:")) {
                assert_eq!(
                    statement_actions,
                    ["sns:Publish"],
                    "{name}: the only SNS action is sns:Publish"
                );
                assert_eq!(
                    resources,
                    [&json!({"Ref": "FindingsTopic"})],
                    "{name}: sns:Publish only on FindingsTopic"
                );
                publishers.insert(name.clone());
            }
        }
    }
    assert_eq!(
        publishers,
        BTreeSet::from([
            "OnChangeRole/run".to_owned(),
            "ScheduledAuditRole/run".to_owned(),
            "AuditWorkerRole/run".to_owned()
        ]),
        "exactly the three function roles may publish"
    );
}

#[test]
fn the_security_hub_import_is_one_action_on_this_accounts_default_product_and_only_when_asked() {
    let template = Template::load();
    let policy = template.resource("SecurityHubImportPolicy");
    assert_eq!(policy["Condition"], "HasSecurityHub");
    assert_eq!(
        template.root["Conditions"]["HasSecurityHub"],
        json!({"Fn::Equals": [{"Ref": "SecurityHub"}, "true"]})
    );
    assert_eq!(
        template.root["Parameters"]["SecurityHub"]["Default"],
        "false"
    );
    assert_eq!(
        policy["Properties"]["PolicyDocument"]["Statement"],
        json!([{
            "Sid": "ImportFindingsAsThisAccountsDefaultProduct",
            "Effect": "Allow",
            "Action": podreach_aws::iam::SECURITY_HUB_ACTION,
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default"}
        }])
    );
    let config = FunctionConfig::from_lookup(|name| match name {
        "DRY_RUN" => Some("true".to_owned()),
        "SECURITY_HUB" => Some("true".to_owned()),
        _ => None,
    })
    .expect("SECURITY_HUB=true is a valid setting");
    assert!(config.security_hub);
    let refused = FunctionConfig::from_lookup(|name| match name {
        "DRY_RUN" => Some("true".to_owned()),
        "SECURITY_HUB" => Some("maybe".to_owned()),
        _ => None,
    })
    .expect_err("a misspelled value is refused");
    assert_eq!(refused.name, "SECURITY_HUB");
}

#[test]
fn each_function_role_has_exactly_what_its_function_needs() {
    let template = Template::load();
    for (function, _, log_group, role_name, _) in FUNCTIONS {
        let role = template.resource(role_name);
        assert_eq!(role["Type"], "AWS::IAM::Role");
        let properties = &role["Properties"];
        assert_eq!(
            properties["AssumeRolePolicyDocument"]["Statement"],
            json!([{
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }]),
            "{role_name} is assumable by Lambda only"
        );
        assert_eq!(
            properties["ManagedPolicyArns"],
            managed_policies(function),
            "{role_name}: the shared read-only policy, Lambda's ENI management only in a VPC, the \
             member role only when one is named, the Security Hub import only for the scheduled \
             audit and only when SecurityHub is true, its organization plan only in organization \
             mode, and no AWS managed policy"
        );
        let policies = properties["Policies"]
            .as_array()
            .expect("inline Policies list");
        assert_eq!(policies.len(), 1, "{role_name}: one inline policy");
        // The single-account stack; what organization mode adds is
        // the_hub_grants_exactly_the_plan_the_queue_and_the_runs_state.
        let document = deployed(&policies[0]["PolicyDocument"], ORGANIZATION, false);
        let granted: Vec<(Vec<String>, Value)> = statements(&document)
            .iter()
            .map(|s| {
                assert_eq!(s["Effect"], "Allow");
                (actions(s), s["Resource"].clone())
            })
            .collect();
        assert_eq!(
            granted,
            vec![
                (
                    vec![
                        "logs:CreateLogStream".to_owned(),
                        "logs:PutLogEvents".to_owned()
                    ],
                    json!({"Fn::GetAtt": [log_group, "Arn"]})
                ),
                (
                    vec!["sns:Publish".to_owned()],
                    json!({"Ref": "FindingsTopic"})
                ),
                (
                    podreach_aws::iam::STATE_ACTIONS
                        .iter()
                        .map(|a| (*a).to_owned())
                        .collect(),
                    json!({"Fn::GetAtt": ["StateTable", "Arn"]})
                ),
                (
                    vec![podreach_aws::iam::SUPPRESSIONS_ACTION.to_owned()],
                    json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SuppressionsParameter}"})
                ),
                if function == "OnChange" {
                    (
                        vec![
                            "sqs:ReceiveMessage".to_owned(),
                            "sqs:DeleteMessage".to_owned(),
                            "sqs:GetQueueAttributes".to_owned(),
                        ],
                        json!({"Fn::GetAtt": ["ChangeEventsQueue", "Arn"]}),
                    )
                } else {
                    (
                        vec!["sqs:SendMessage".to_owned()],
                        json!({"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}),
                    )
                },
            ],
            "{role_name}: writes {function}'s own logs, publishes findings, keeps the findings' \
             state in its one table, reads the one suppressions parameter, and either reads the \
             change-event batches (OnChange) or sends failed invocations to the dead-letter \
             queue (ScheduledAudit); nothing else"
        );
    }
}

#[test]
fn every_function_runs_its_cargo_lambda_binary_on_provided_al2023() {
    let template = Template::load();
    for (function, binary, log_group, role, timeout) in FUNCTIONS {
        let resource = template.resource(function);
        assert_eq!(resource["Type"], "AWS::Serverless::Function");
        assert_eq!(
            resource["Metadata"],
            json!({"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": binary}}),
            "{function} is built from the cargo binary {binary}"
        );
        let p = &resource["Properties"];
        assert_eq!(
            p["CodeUri"], "..",
            "{function} builds from the workspace root"
        );
        assert_eq!(p["Handler"], "bootstrap");
        assert_eq!(p["Runtime"], "provided.al2023");
        assert!(
            p.get("Architectures").is_none(),
            "{function}: the architecture is the template's one value (Globals)"
        );
        assert_eq!(
            p["MemorySize"], 1024,
            "{function}: sized from BENCHMARKS.md"
        );
        assert_eq!(p["Timeout"], timeout);
        assert_eq!(p["Role"], json!({"Fn::GetAtt": [role, "Arn"]}));
        assert!(
            p.get("Policies").is_none(),
            "{function}: permissions live in {role} only"
        );
        assert_eq!(
            p["FunctionName"],
            json!({"Fn::Sub": format!("${{AWS::StackName}}-{binary}")})
        );
        assert_eq!(
            p["ReservedConcurrentExecutions"],
            json!({"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}),
            "{function}'s concurrency is capped by the ReservedConcurrency parameter"
        );
        assert_eq!(
            p["LoggingConfig"],
            json!({"LogFormat": "JSON", "LogGroup": {"Ref": log_group}})
        );
        assert_eq!(
            p["Environment"]["Variables"],
            environment(function),
            "{function}'s environment"
        );
        let group = template.resource(log_group);
        assert_eq!(group["Type"], "AWS::Logs::LogGroup");
        assert_eq!(
            group["Properties"],
            json!({
                "LogGroupName": {"Fn::Sub": format!("/aws/lambda/${{AWS::StackName}}-{binary}")},
                "RetentionInDays": {"Ref": "LogRetentionDays"}
            }),
            "{log_group} is the function's /aws/lambda/ group, with retention"
        );
    }
}

#[test]
fn reserved_concurrency_zero_leaves_the_functions_unreserved() {
    let template = Template::load();
    assert_eq!(
        template.root["Conditions"]["HasReservedConcurrency"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "0"]}]}),
        "Ref of a Number parameter is a string, so compare with \"0\""
    );
    assert_eq!(
        template.root["Parameters"]["ReservedConcurrency"]["MinValue"],
        0
    );
}

#[test]
fn failed_invocations_retry_once_then_go_to_the_dead_letter_queue() {
    let template = Template::load();
    let configs = template.resources_of_type("AWS::Lambda::EventInvokeConfig");
    let configured: BTreeSet<String> = configs
        .iter()
        .map(|(name, config)| {
            let p = &config["Properties"];
            assert_eq!(p["MaximumRetryAttempts"], 1, "{name}");
            assert_eq!(p["MaximumEventAgeInSeconds"], 3600, "{name}");
            assert_eq!(p["Qualifier"], "$LATEST", "{name}");
            assert_eq!(
                p["DestinationConfig"],
                json!({"OnFailure": {"Destination": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}}}),
                "{name}"
            );
            p["FunctionName"].to_string()
        })
        .collect();
    assert_eq!(
        configured,
        BTreeSet::from([json!({"Ref": "ScheduledAudit"}).to_string()]),
        "ScheduledAudit, invoked asynchronously, has an EventInvokeConfig; OnChange reads a queue"
    );
    // OnChange: batches from the debounce queue, partial batch failures, redrive.
    let events = &template.resource("OnChange")["Properties"]["Events"];
    assert_eq!(
        events,
        &json!({"ChangeEvents": {"Type": "SQS", "Properties": {
            "Queue": {"Fn::GetAtt": ["ChangeEventsQueue", "Arn"]},
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": {"Ref": "DebounceSeconds"},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency":
                {"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, 2]}}
        }}})
    );
    let changes = &template.resource("ChangeEventsQueue")["Properties"];
    assert_eq!(
        changes["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["FailedEventsQueue", "Arn"]})
    );
    let queue = template.resource("FailedEventsQueue");
    assert_eq!(queue["Type"], "AWS::SQS::Queue");
    assert_eq!(queue["Properties"]["SqsManagedSseEnabled"], true);
    assert_eq!(
        queue["Properties"]["MessageRetentionPeriod"], 1_209_600,
        "14 days"
    );
}

/// Lambda's guide to SQS event sources, as relations between the template's values (never the
/// numbers themselves): a batch is never handed out twice while it may run, a throttled batch is
/// retried before it is dead-lettered, and the poller never starts more batches than OnChange
/// may run at once.
#[test]
fn the_change_queue_and_its_poller_match_on_changes_concurrency_and_timeout() {
    let template = Template::load();
    let number = |v: &Value, what: &str| {
        v.as_u64()
            .unwrap_or_else(|| fail(&format!("{what} is a number: {v}")))
    };
    let queue = &template.resource("ChangeEventsQueue")["Properties"];
    let on_change = &template.resource("OnChange")["Properties"];
    let parameters = &template.root["Parameters"];
    let timeout = number(&on_change["Timeout"], "OnChange's Timeout");
    let longest_window = number(
        &parameters["DebounceSeconds"]["MaxValue"],
        "DebounceSeconds' MaxValue",
    );
    let visibility = number(&queue["VisibilityTimeout"], "the queue's VisibilityTimeout");
    assert!(
        visibility >= 6 * timeout + longest_window,
        "VisibilityTimeout {visibility} >= 6 x Timeout {timeout} + the longest batching window {longest_window}"
    );
    let receives = number(
        &queue["RedrivePolicy"]["maxReceiveCount"],
        "maxReceiveCount",
    );
    assert!(receives >= 5, "maxReceiveCount {receives} >= 5");

    // The poller's cap is the reservation itself when there is one, and SQS's least cap (2)
    // when the functions are unreserved; a reservation of 1, below that least cap, is refused.
    let cap =
        &on_change["Events"]["ChangeEvents"]["Properties"]["ScalingConfig"]["MaximumConcurrency"];
    assert_eq!(
        on_change["ReservedConcurrentExecutions"],
        json!({"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]})
    );
    let reserved_cap = &cap["Fn::If"][1];
    let unreserved_cap = number(&cap["Fn::If"][2], "the unreserved cap");
    assert_eq!(cap["Fn::If"][0], "HasReservedConcurrency");
    assert_eq!(
        reserved_cap,
        &json!({"Ref": "ReservedConcurrency"}),
        "capped at the reservation"
    );
    assert!(
        (2..=1000).contains(&unreserved_cap),
        "SQS's MaximumConcurrency range"
    );
    assert_eq!(
        template.root["Conditions"]["HasReservedConcurrency"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "0"]}]})
    );
    assert_eq!(
        template.root["Rules"]["ReservedConcurrencyIsNotOne"]["Assertions"][0]["Assert"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "1"]}]}),
        "a reservation of 1 is below the poller's least cap"
    );
    assert_eq!(parameters["ReservedConcurrency"]["MinValue"], 0);
}

#[test]
fn every_rule_targets_the_intended_function() {
    let template = Template::load();
    let rules = template.resources_of_type("AWS::Events::Rule");
    let names: BTreeSet<&str> = rules.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        RULES.iter().map(|(rule, _)| *rule).collect::<BTreeSet<_>>(),
        "the template's rules are exactly those this test knows"
    );
    let permissions = template.resources_of_type("AWS::Lambda::Permission");
    for (rule_name, function) in RULES {
        let p = &template.resource(rule_name)["Properties"];
        assert_eq!(p["State"], "ENABLED", "{rule_name}");
        let id = if function == "ChangeEventsQueue" {
            "change-events"
        } else {
            target_id(function)
        };
        assert_eq!(
            p["Targets"],
            json!([{
                "Id": id,
                "Arn": {"Fn::GetAtt": [function, "Arn"]},
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}}
            }]),
            "{rule_name} has one target, {function}, with a retry policy and the dead-letter queue"
        );
        if rule_name == "Schedule" {
            assert_eq!(
                p["ScheduleExpression"],
                json!({"Ref": "ScheduleExpression"})
            );
            assert!(
                p.get("EventPattern").is_none(),
                "the schedule rule has no pattern"
            );
        } else {
            assert!(
                p.get("ScheduleExpression").is_none(),
                "{rule_name} is a pattern rule"
            );
            assert!(
                p["EventPattern"].is_object(),
                "{rule_name} has an EventPattern"
            );
        }
        let bus = if rule_name == "PodScaling" {
            json!({"Ref": "EventBusName"})
        } else {
            Value::Null
        };
        assert_eq!(
            p.get("EventBusName").cloned().unwrap_or(Value::Null),
            bus,
            "{rule_name}: only the Kubernetes rule listens on the EventBusName bus; the others on \
             the default bus, where AWS services put their events"
        );
        let allowed: Vec<&&String> = permissions
            .iter()
            .filter(|(_, permission)| {
                permission["Properties"]["SourceArn"] == json!({"Fn::GetAtt": [rule_name, "Arn"]})
            })
            .map(|(name, permission)| {
                assert_eq!(
                    permission["Properties"],
                    json!({
                        "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
                        "Action": "lambda:InvokeFunction",
                        "Principal": "events.amazonaws.com",
                        "SourceArn": {"Fn::GetAtt": [rule_name, "Arn"]}
                    }),
                    "{name}"
                );
                name
            })
            .collect();
        let expected = usize::from(function != "ChangeEventsQueue");
        assert_eq!(
            allowed.len(),
            expected,
            "{rule_name} needs exactly {expected} lambda:InvokeFunction permission on {function}"
        );
    }
    assert_eq!(
        permissions.len(),
        1,
        "no invoke permission but the schedule's"
    );
    let change_policy = template.resource("ChangeEventsQueuePolicy");
    let statement = &statements(&change_policy["Properties"]["PolicyDocument"])[0];
    assert_eq!(statement["Action"], "sqs:SendMessage");
    let sources: BTreeSet<String> = as_list(&statement["Condition"]["ArnEquals"]["aws:SourceArn"])
        .into_iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(
        sources,
        RULES
            .iter()
            .filter(|(_, target)| *target == "ChangeEventsQueue")
            .map(|(rule, _)| json!({"Fn::GetAtt": [rule, "Arn"]}).to_string())
            .collect::<BTreeSet<_>>(),
        "the change queue accepts events from exactly the change rules"
    );

    let queue_policy = template.resource("FailedEventsQueuePolicy");
    let statement = &statements(&queue_policy["Properties"]["PolicyDocument"])[0];
    assert_eq!(
        statement["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(statement["Action"], "sqs:SendMessage");
    let sources: BTreeSet<String> = as_list(&statement["Condition"]["ArnEquals"]["aws:SourceArn"])
        .into_iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(
        sources,
        RULES
            .iter()
            .map(|(rule, _)| json!({"Fn::GetAtt": [rule, "Arn"]}).to_string())
            .collect::<BTreeSet<_>>(),
        "the queue accepts dead letters from exactly the stack's rules"
    );
}

#[test]
fn slack_channel_exists_only_with_both_ids_and_can_run_nothing() {
    let template = Template::load();
    assert_eq!(
        template.root["Conditions"]["HasSlack"],
        json!({"Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "SlackWorkspaceId"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "SlackChannelId"}, ""]}]}
        ]})
    );
    let channel = template.resource("SlackChannel");
    assert_eq!(channel["Type"], "AWS::Chatbot::SlackChannelConfiguration");
    assert_eq!(channel["Condition"], "HasSlack");
    let p = &channel["Properties"];
    assert_eq!(p["SnsTopicArns"], json!([{"Ref": "FindingsTopic"}]));
    assert_eq!(
        p["IamRoleArn"],
        json!({"Fn::GetAtt": ["SlackChannelRole", "Arn"]})
    );
    assert_eq!(
        p["GuardrailPolicies"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSDenyAll"}])
    );
    assert_eq!(p["LoggingLevel"], "ERROR");
    assert_eq!(p["UserRoleRequired"], false);

    let role = template.resource("SlackChannelRole");
    assert_eq!(role["Condition"], "HasSlack");
    assert_eq!(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Principal": {"Service": "chatbot.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }])
    );
    for key in ["Policies", "ManagedPolicyArns", "PermissionsBoundary"] {
        assert!(
            role["Properties"].get(key).is_none(),
            "the Chatbot role needs no permissions to deliver notifications ({key})"
        );
    }
}

#[test]
fn the_state_table_is_on_demand_recoverable_expiring_and_kept() {
    let template = Template::load();
    let table = template.resource("StateTable");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(
        table["DeletionPolicy"], "Retain",
        "losing the state would announce every open finding as NEW"
    );
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": "expires_at", "Enabled": true}),
        "the attribute podreach_aws::state writes on resolved records"
    );
    assert_eq!(
        p["KeySchema"],
        json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    );
    let parameter = template.resource("SuppressionsParameter");
    assert_eq!(parameter["Type"], "AWS::SSM::Parameter");
    let document = parameter["Properties"]["Value"]
        .as_str()
        .expect("a document");
    assert_eq!(
        podreach_core::suppressions::parse(document).map(|s| s.len()),
        Ok(0),
        "the initial document is valid and suppresses nothing"
    );
    for (function, ..) in FUNCTIONS {
        let variables = &template.resource(function)["Properties"]["Environment"]["Variables"];
        assert_eq!(variables["STATE_TABLE"], json!({"Ref": "StateTable"}));
        assert_eq!(
            variables["SUPPRESSIONS_PARAMETER"],
            json!({"Ref": "SuppressionsParameter"})
        );
        assert_eq!(variables["RENOTIFY_HOURS"], json!({"Ref": "RenotifyHours"}));
    }
}

#[test]
fn parameters_have_the_documented_defaults() {
    let template = Template::load();
    let parameters = &template.root["Parameters"];
    let expected = [
        ("Clusters", json!("")),
        ("MessageFormat", json!("chatbot")),
        ("DryRun", json!("false")),
        ("MinSeverity", json!("MEDIUM")),
        ("ScheduleExpression", json!("rate(6 hours)")),
        ("SlackWorkspaceId", json!("")),
        ("SlackChannelId", json!("")),
        ("LogRetentionDays", json!(30)),
        ("ReservedConcurrency", json!(2)),
        ("EventBusName", json!("default")),
        ("DebounceSeconds", json!(60)),
        ("RenotifyHours", json!(24)),
        ("TcpPorts", json!("")),
        ("SuppressionsParameterName", json!("")),
        ("ClusterNames", json!("")),
        ("KubernetesAccess", json!("rbac")),
        ("SubnetIds", json!("")),
        ("SecurityGroupIds", json!("")),
        ("MemberRoleName", json!("")),
        ("MemberExternalId", json!("")),
        ("Regions", json!("")),
        ("SecurityHub", json!("false")),
        ("OrganizationMode", json!("false")),
        ("OrganizationId", json!("")),
        ("Accounts", json!("")),
        ("ExcludeAccounts", json!("")),
        ("ExcludeOus", json!("")),
        ("AuditConcurrency", json!(10)),
        ("AccountConcurrency", json!(1)),
    ];
    let names: BTreeSet<&str> = parameters
        .as_object()
        .expect("Parameters")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        expected
            .iter()
            .map(|(name, _)| *name)
            .collect::<BTreeSet<_>>(),
        "the documented parameters"
    );
    for (name, default) in expected {
        assert_eq!(parameters[name]["Default"], default, "{name}'s default");
    }
    assert_eq!(
        parameters["MessageFormat"]["AllowedValues"],
        json!(["json", "chatbot"])
    );
    assert_eq!(
        parameters["DryRun"]["AllowedValues"],
        json!(["true", "false"])
    );
    assert_eq!(
        parameters["MinSeverity"]["AllowedValues"],
        json!(["LOW", "MEDIUM", "HIGH", "CRITICAL"])
    );
    assert_eq!(
        parameters["KubernetesAccess"]["AllowedValues"],
        json!(["rbac", "view-policy", "off"])
    );
    assert_eq!(
        parameters["OrganizationMode"]["AllowedValues"],
        json!(["false", "true"])
    );
    for name in ["ClusterNames", "SubnetIds", "SecurityGroupIds"] {
        assert_eq!(
            parameters[name]["Type"], "CommaDelimitedList",
            "{name} is a list, empty by default"
        );
    }
}

#[test]
fn outputs_name_the_topic_the_queue_and_the_functions() {
    let template = Template::load();
    let outputs = &template.root["Outputs"];
    for (output, value) in [
        ("FindingsTopicArn", json!({"Ref": "FindingsTopic"})),
        ("FailedEventsQueueUrl", json!({"Ref": "FailedEventsQueue"})),
        ("OnChangeFunctionName", json!({"Ref": "OnChange"})),
        ("StateTableName", json!({"Ref": "StateTable"})),
        (
            "SuppressionsParameterName",
            json!({"Ref": "SuppressionsParameter"}),
        ),
        (
            "ScheduledAuditFunctionName",
            json!({"Ref": "ScheduledAudit"}),
        ),
        (
            "OnChangeRoleArn",
            json!({"Fn::GetAtt": ["OnChangeRole", "Arn"]}),
        ),
        (
            "ScheduledAuditRoleArn",
            json!({"Fn::GetAtt": ["ScheduledAuditRole", "Arn"]}),
        ),
    ] {
        assert_eq!(outputs[output]["Value"], value, "output {output}");
    }
}

#[test]
fn access_entries_grant_both_function_roles_the_readers_group_of_every_named_cluster() {
    let template = Template::load();
    let conditions = &template.root["Conditions"];
    assert_eq!(
        conditions["HasClusterNames"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "ClusterNames"}]}, ""]}]}),
        "an empty CommaDelimitedList is [\"\"], not []: only its joined items say it is empty"
    );
    assert_eq!(
        conditions["KubernetesOff"],
        json!({"Fn::Equals": [{"Ref": "KubernetesAccess"}, "off"]})
    );
    assert_eq!(
        conditions["KubernetesRbac"],
        json!({"Fn::Equals": [{"Ref": "KubernetesAccess"}, "rbac"]})
    );
    assert_eq!(
        conditions["KubernetesViewPolicy"],
        json!({"Fn::Equals": [{"Ref": "KubernetesAccess"}, "view-policy"]})
    );
    assert_eq!(
        conditions["CreateAccessEntries"],
        json!({"Fn::And": [{"Condition": "HasClusterNames"}, {"Fn::Not": [{"Condition": "KubernetesOff"}]}]}),
        "no access entry without cluster names, nor when the functions do not read the API"
    );

    let for_each = template.root["Resources"][ACCESS_ENTRIES_LOOP]
        .as_array()
        .unwrap_or_else(|| {
            fail(&format!(
                "the access entries are the loop {ACCESS_ENTRIES_LOOP}"
            ))
        });
    assert_eq!(for_each.len(), 3, "[identifier, collection, fragment]");
    let identifier = for_each[0]
        .as_str()
        .unwrap_or_else(|| fail("the loop's identifier is a string"));
    assert_eq!(
        for_each[1],
        json!({"Ref": "ClusterNames"}),
        "one iteration per cluster named in ClusterNames"
    );
    let fragment = for_each[2]
        .as_object()
        .unwrap_or_else(|| fail("the loop's fragment is a mapping"));
    // `&{Cluster}`, not `${Cluster}`: logical ids are alphanumeric, cluster names may hold - and _.
    let id = |function: &str| format!("{function}AccessEntry&{{{identifier}}}");
    assert_eq!(
        fragment.keys().cloned().collect::<BTreeSet<_>>(),
        FUNCTIONS
            .iter()
            .map(|(function, ..)| id(function))
            .collect::<BTreeSet<_>>(),
        "one entry per cluster for each function role, ids stripped of non-alphanumerics (&{{}})"
    );
    for (function, _, _, role, _) in FUNCTIONS {
        let name = id(function);
        let entry = fragment
            .get(&name)
            .unwrap_or_else(|| fail(&format!("the loop has no {name}")));
        assert_eq!(entry["Type"], "AWS::EKS::AccessEntry", "{name}");
        assert_eq!(
            entry["Condition"], "CreateAccessEntries",
            "{name} is absent when ClusterNames is empty or KubernetesAccess is off"
        );
        assert_eq!(
            entry["Properties"],
            json!({
                "ClusterName": {"Ref": identifier},
                "PrincipalArn": {"Fn::GetAtt": [role, "Arn"]},
                "Type": "STANDARD",
                "KubernetesGroups": {"Fn::If": ["KubernetesRbac", [READERS], {"Ref": "AWS::NoValue"}]},
                "AccessPolicies": {"Fn::If": ["KubernetesViewPolicy", [{
                    "PolicyArn": {"Fn::Sub": "arn:${AWS::Partition}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"},
                    "AccessScope": {"Type": "cluster"}
                }], {"Ref": "AWS::NoValue"}]}
            }),
            "{name}: {role} in the group {READERS} with rbac, or with AmazonEKSViewPolicy on the \
             whole cluster with view-policy; never both"
        );
    }
    assert_eq!(
        template
            .resources_of_type("AWS::EKS::AccessEntry")
            .into_iter()
            .map(|(name, _)| name.clone())
            .collect::<BTreeSet<_>>(),
        FUNCTIONS
            .iter()
            .map(|(function, ..)| id(function))
            .collect::<BTreeSet<_>>(),
        "no access entry outside the loop"
    );
}

#[test]
fn the_loop_is_expanded_before_sam_and_by_every_sam_cli_command() {
    let template = Template::load();
    assert_eq!(
        template.root["Transform"],
        json!(["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]),
        "AWS::LanguageExtensions expands Fn::ForEach before the SAM transform reads the template"
    );
    // The SAM CLI stops at a Fn::ForEach in Resources unless language_extensions is on.
    let text = std::fs::read_to_string(repo_root().join("infra/samconfig.toml"))
        .expect("infra/samconfig.toml is readable");
    let mut section = "";
    let mut enabled = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if line.replace(' ', "") == "language_extensions=true" {
            enabled.insert(section);
        }
    }
    assert_eq!(
        enabled,
        BTreeSet::from([
            "[default.build.parameters]",
            "[default.sync.parameters]",
            "[default.validate.parameters]",
            "[default.package.parameters]",
            "[default.deploy.parameters]",
        ]),
        "infra/samconfig.toml turns language_extensions on for every command that reads the template"
    );
}

#[test]
fn the_group_in_the_access_entries_is_the_one_infra_rbac_yaml_binds() {
    let template = Template::load();
    let mut granted = BTreeSet::new();
    for (name, entry) in template.resources_of_type("AWS::EKS::AccessEntry") {
        let groups = &entry["Properties"]["KubernetesGroups"]["Fn::If"];
        assert_eq!(
            groups[0], "KubernetesRbac",
            "{name}: groups only with KubernetesAccess=rbac"
        );
        for group in groups[1]
            .as_array()
            .unwrap_or_else(|| fail(&format!("{name}: the groups are a list")))
        {
            granted.insert(
                group
                    .as_str()
                    .unwrap_or_else(|| fail(&format!("{name}: a group is a string")))
                    .to_owned(),
            );
        }
    }
    let rbac = project_rbac();
    let bindings: Vec<&Value> = rbac
        .iter()
        .filter(|object| {
            matches!(
                object["kind"].as_str(),
                Some("ClusterRoleBinding" | "RoleBinding")
            )
        })
        .collect();
    assert_eq!(
        bindings.len(),
        2,
        "infra/rbac.yaml binds its ClusterRole (pods, nodes, ENIConfigs) and its Role (aws-node)"
    );
    let mut bound = BTreeSet::new();
    for binding in bindings {
        for subject in binding["subjects"].as_array().into_iter().flatten() {
            assert_eq!(
                subject["kind"], "Group",
                "infra/rbac.yaml binds groups, not users: {subject}"
            );
            assert_eq!(subject["apiGroup"], "rbac.authorization.k8s.io");
            bound.insert(
                subject["name"]
                    .as_str()
                    .unwrap_or_else(|| fail("a subject has a name"))
                    .to_owned(),
            );
        }
    }
    assert_eq!(
        bound,
        BTreeSet::from([READERS.to_owned()]),
        "infra/rbac.yaml binds one group"
    );
    assert_eq!(
        granted, bound,
        "the access entries put the function roles in the group infra/rbac.yaml binds"
    );
}

#[test]
fn functions_in_a_vpc_get_exactly_lambdas_eni_actions_and_only_then() {
    let template = Template::load();
    assert_eq!(
        template.root["Conditions"]["InVpc"],
        json!({"Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "SubnetIds"}]}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "SecurityGroupIds"}]}, ""]}]}
        ]}),
        "in a VPC only with both subnets and security groups"
    );
    let policy = template.resource(LAMBDA_VPC_POLICY);
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(
        policy["Condition"], "InVpc",
        "Lambda's ENI permissions exist only when the functions run in a VPC"
    );
    let granted: Vec<(Vec<String>, Value)> = statements(&policy["Properties"]["PolicyDocument"])
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            (actions(s), s["Resource"].clone())
        })
        .collect();
    assert_eq!(
        granted,
        vec![(
            LAMBDA_VPC_ENI_ACTIONS
                .iter()
                .map(|a| (*a).to_owned())
                .collect::<Vec<String>>(),
            json!("*")
        )],
        "exactly the EC2 actions of AWSLambdaVPCAccessExecutionRole, in one statement"
    );
    for (function, _, _, role, _) in FUNCTIONS {
        assert_eq!(
            template.resource(role)["Properties"]["ManagedPolicyArns"],
            managed_policies(function),
            "{role} gets Lambda's ENI permissions only in a VPC"
        );
        assert_eq!(
            template.resource(function)["Properties"]["VpcConfig"],
            json!({"Fn::If": [
                "InVpc",
                {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}},
                {"Ref": "AWS::NoValue"}
            ]}),
            "{function} runs in SubnetIds with SecurityGroupIds when both are set, else outside any VPC"
        );
    }
    // podreach itself stays read-only: no other policy lets anyone change an ENI.
    for (name, document) in template.policy_documents() {
        if name == LAMBDA_VPC_POLICY {
            continue;
        }
        for statement in statements(document) {
            for action in actions(statement) {
                let changes_an_eni = LAMBDA_VPC_ENI_ACTIONS.contains(&action.as_str())
                    && !action.starts_with("ec2:Describe");
                assert!(
                    !changes_an_eni,
                    "{name} grants {action}, which only Lambda's ENI management may have"
                );
            }
        }
    }
}

#[test]
fn kubernetes_api_setting_reaches_both_functions() {
    let template = Template::load();
    assert_eq!(
        template.root["Conditions"]["KubernetesOff"],
        json!({"Fn::Equals": [{"Ref": "KubernetesAccess"}, "off"]})
    );
    for (function, ..) in FUNCTIONS {
        assert_eq!(
            template.resource(function)["Properties"]["Environment"]["Variables"]["KUBERNETES_API"],
            json!({"Fn::If": ["KubernetesOff", "off", "eks"]}),
            "{function} reads the Kubernetes API unless KubernetesAccess is off"
        );
    }
    // Both values the template sets are the functions' own words for the two modes.
    for (value, mode) in [("off", KubeMode::Off), ("eks", KubeMode::Eks)] {
        let config = FunctionConfig::from_lookup(|name| match name {
            "KUBERNETES_API" => Some(value.to_owned()),
            "DRY_RUN" => Some("true".to_owned()),
            _ => None,
        });
        assert_eq!(
            config.map(|c| c.kubernetes).ok(),
            Some(mode),
            "KUBERNETES_API={value}"
        );
    }
}

#[test]
fn yaml_short_tags_become_cloudformation_long_form() {
    let yaml = "a: !Ref X\nb: !GetAtt R.Arn\nc: !Sub 'x-${Y}'\nd: !If [C, 1, !Ref AWS::NoValue]\n\
                e: !Not [!Equals [!Ref P, '']]\nf: !Condition C\n";
    let value = yaml_to_json(serde_yaml_ng::from_str(yaml).expect("test YAML parses"));
    assert_eq!(
        value,
        json!({
            "a": {"Ref": "X"},
            "b": {"Fn::GetAtt": ["R", "Arn"]},
            "c": {"Fn::Sub": "x-${Y}"},
            "d": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]},
            "e": {"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]},
            "f": {"Condition": "C"}
        })
    );
}

// --- helpers ------------------------------------------------------------------------------------

/// `infra/template.yaml` in CloudFormation's long JSON form.
#[derive(Debug)]
struct Template {
    root: Value,
}

impl Template {
    fn load() -> Template {
        Template {
            root: load_template(),
        }
    }

    fn resource(&self, name: &str) -> &Value {
        self.root["Resources"]
            .get(name)
            .unwrap_or_else(|| fail(&format!("infra/template.yaml has no resource {name}")))
    }

    /// The resources of type `kind`, those an `Fn::ForEach` loop generates included (named by
    /// their templated ids).
    fn resources_of_type(&self, kind: &str) -> Vec<(&String, &Value)> {
        resources(&self.root)
            .into_iter()
            .filter(|(_, resource)| resource["Type"] == kind)
            .collect()
    }

    /// Every identity and resource policy of the template (not trust policies), named
    /// `Resource` or `Role/PolicyName`; those in resources an `Fn::ForEach` loop generates too.
    fn policy_documents(&self) -> Vec<(String, &Value)> {
        let mut documents = Vec::new();
        for (name, resource) in resources(&self.root) {
            let p = &resource["Properties"];
            match resource["Type"].as_str() {
                Some("AWS::IAM::Role") => {
                    for policy in p["Policies"].as_array().into_iter().flatten() {
                        let policy_name = policy["PolicyName"].as_str().unwrap_or("?");
                        documents
                            .push((format!("{name}/{policy_name}"), &policy["PolicyDocument"]));
                    }
                }
                Some("AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy") => {
                    documents.push((name.clone(), &p["PolicyDocument"]));
                }
                Some("AWS::SQS::QueuePolicy" | "AWS::SNS::TopicPolicy") => {
                    documents.push((name.clone(), &p["PolicyDocument"]));
                }
                // One statement, under `Statement` as in a document.
                Some("AWS::Events::EventBusPolicy") => {
                    documents.push((name.clone(), p));
                }
                Some("AWS::Serverless::Function") => {
                    assert!(
                        p.get("Policies").is_none(),
                        "{name}: SAM policy templates hide their actions; use the role"
                    );
                }
                _ => {}
            }
        }
        assert!(documents.len() >= 4, "found the policies of the template");
        documents
    }
}

fn statements(document: &Value) -> Vec<&Value> {
    as_list(&document["Statement"])
}

/// The statement's actions (`Action` is a string or a list): every action it may grant, so an
/// item `Fn::If` gives the actions of both its branches (`AWS::NoValue` none). Pass a document
/// through [`deployed`] first for one mode's actions.
fn actions(statement: &Value) -> Vec<String> {
    as_list(&statement["Action"])
        .into_iter()
        .flat_map(|a| match a.get("Fn::If").and_then(Value::as_array) {
            Some(branches) => branches
                .iter()
                .skip(1)
                .filter(|branch| **branch != no_value())
                .collect::<Vec<&Value>>(),
            None => vec![a],
        })
        .map(|a| {
            a.as_str()
                .unwrap_or_else(|| fail(&format!("an Action is not a string: {a}")))
                .to_owned()
        })
        .collect()
}

/// CloudFormation's "no value": what an `Fn::If` branch gives to leave a property or an item out.
fn no_value() -> Value {
    json!({"Ref": "AWS::NoValue"})
}

/// `value` as CloudFormation deploys it when `condition` is `holds`: each `Fn::If` on that
/// condition becomes the branch it picks, and an `AWS::NoValue` left in a list or a mapping is
/// dropped. The `Fn::If`s of other conditions stay as they are, their `AWS::NoValue` included.
fn deployed(value: &Value, condition: &str, holds: bool) -> Value {
    if let Some(branches) = value.get("Fn::If").and_then(Value::as_array)
        && branches.len() == 3
    {
        if branches[0] == condition {
            let picked = if holds { &branches[1] } else { &branches[2] };
            return deployed(picked, condition, holds);
        }
        return json!({"Fn::If": [
            branches[0].clone(),
            deployed(&branches[1], condition, holds),
            deployed(&branches[2], condition, holds)
        ]});
    }
    match value {
        Value::Object(mapping) => Value::Object(
            mapping
                .iter()
                .map(|(key, item)| (key.clone(), deployed(item, condition, holds)))
                .filter(|(_, item)| *item != no_value())
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| deployed(item, condition, holds))
                .filter(|item| *item != no_value())
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The environment of `function` as the template sets it. The functions share an audit's
/// settings; the scheduled audit adds organization mode's plan (inert unless `ORGANIZATION` is
/// true: no queue, no accounts), and the audit worker has no `REGIONS`, as each of its messages
/// names its account and Region.
fn environment(function: &str) -> Value {
    let mut variables: Vec<(&str, Value)> = vec![
        ("TOPIC_ARN", json!({"Ref": "FindingsTopic"})),
        ("MESSAGE_FORMAT", json!({"Ref": "MessageFormat"})),
        ("DRY_RUN", json!({"Ref": "DryRun"})),
        ("MIN_SEVERITY", json!({"Ref": "MinSeverity"})),
        ("CLUSTERS", json!({"Ref": "Clusters"})),
        ("MAX_CONCURRENCY", json!("4")),
        ("STATE_TABLE", json!({"Ref": "StateTable"})),
        (
            "SUPPRESSIONS_PARAMETER",
            json!({"Ref": "SuppressionsParameter"}),
        ),
        ("RENOTIFY_HOURS", json!({"Ref": "RenotifyHours"})),
        ("TCP_PORTS", json!({"Ref": "TcpPorts"})),
        (
            "KUBERNETES_API",
            json!({"Fn::If": ["KubernetesOff", "off", "eks"]}),
        ),
        ("MEMBER_ROLE_NAME", json!({"Ref": "MemberRoleName"})),
        ("MEMBER_EXTERNAL_ID", json!({"Ref": "MemberExternalId"})),
        ("REGIONS", json!({"Ref": "Regions"})),
        ("SECURITY_HUB", json!({"Ref": "SecurityHub"})),
        ("RUST_LOG", json!("info")),
    ];
    if function == "ScheduledAudit" {
        variables.extend([
            ("ORGANIZATION", json!({"Ref": "OrganizationMode"})),
            (
                "AUDIT_QUEUE_URL",
                json!({"Fn::If": [ORGANIZATION, {"Ref": "AuditQueue"}, ""]}),
            ),
            ("ACCOUNTS", json!({"Ref": "Accounts"})),
            ("EXCLUDE_ACCOUNTS", json!({"Ref": "ExcludeAccounts"})),
            ("EXCLUDE_OUS", json!({"Ref": "ExcludeOus"})),
            ("ACCOUNT_CONCURRENCY", json!({"Ref": "AccountConcurrency"})),
        ]);
    }
    if function == "OnChange" {
        // On the hub, on-change audits each member account's forwarded events through its role.
        variables.extend([
            ("ORGANIZATION", json!({"Ref": "OrganizationMode"})),
            (
                "AUDIT_QUEUE_URL",
                json!({"Fn::If": [ORGANIZATION, {"Ref": "AuditQueue"}, ""]}),
            ),
        ]);
    }
    if function == "AuditWorker" {
        variables.retain(|(name, _)| *name != "REGIONS");
    }
    Value::Object(
        variables
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    )
}

/// The names of `list`, owned (to compare with [`actions`]).
fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}

/// A policy field that may be one value or a list of values.
fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// The target id of a rule: the function's binary name.
fn target_id(function: &str) -> &'static str {
    FUNCTIONS
        .iter()
        .find(|(name, ..)| *name == function)
        .map(|(_, binary, ..)| *binary)
        .unwrap_or_else(|| fail(&format!("unknown function {function}")))
}

#[test]
fn the_member_role_policy_assumes_only_the_named_role_and_only_when_it_is_named() {
    let template = Template::load();
    let policy = template.resource(MEMBER_ROLE_POLICY);
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(policy["Condition"], "HasMemberRole");
    assert_eq!(
        template.root["Conditions"]["HasMemberRole"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "MemberRoleName"}, ""]}]})
    );
    let granted: Vec<(Vec<String>, Value)> = statements(&policy["Properties"]["PolicyDocument"])
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            (actions(s), s["Resource"].clone())
        })
        .collect();
    assert_eq!(
        granted,
        vec![(
            vec![podreach_aws::iam::MEMBER_ACTION.to_owned()],
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"})
        )],
        "sts:AssumeRole on the member role's name only"
    );
}

#[test]
fn build_and_deploy_read_one_architecture_and_names_are_scoped_to_the_stack() {
    let template = Template::load();
    let root = &template.root;
    // One literal value that `sam build` and `sam deploy` both read: no parameter to disagree on.
    assert_eq!(
        root["Globals"]["Function"]["Architectures"],
        json!(["arm64"])
    );
    assert!(root["Parameters"].get("Architecture").is_none());
    let text = root.to_string();
    assert!(
        !text.contains(r#"{"Ref":"Architecture"}"#),
        "nothing refers to a parameter"
    );
    // The suppression parameter's name: the user's, or one under the stack's name, so a second
    // stack in the Region does not fail on a name the first one holds; the roles read it by Ref.
    assert_eq!(
        root["Resources"]["SuppressionsParameter"]["Properties"]["Name"],
        json!({"Fn::If": [
            "HasSuppressionsName",
            {"Ref": "SuppressionsParameterName"},
            {"Fn::Sub": "/podreach/${AWS::StackName}/suppressions"}
        ]})
    );
    assert!(
        !text.contains("parameter${SuppressionsParameterName}"),
        "an ARN built from the raw parameter would be wrong when it is empty"
    );
    // Every other name the stack gives is under the stack's name, or left to CloudFormation.
    let resources = root["Resources"].as_object().expect("Resources");
    for (id, resource) in resources {
        let properties = &resource["Properties"];
        for key in [
            "FunctionName",
            "TableName",
            "QueueName",
            "TopicName",
            "RoleName",
            "ConfigurationName",
            "Name",
        ] {
            let Some(value) = properties.get(key) else {
                continue;
            };
            if id == "SuppressionsParameter" {
                continue;
            }
            // The hub's role names are fixed on purpose, and only in organization mode: the
            // member role trusts them by name, so one hub per account
            // (organization_mode_names_the_roles_the_member_role_trusts).
            if key == "RoleName" && HUB_ROLES.iter().any(|(role, _)| *role == id.as_str()) {
                continue;
            }
            let scoped = value.to_string().contains("AWS::StackName") || !value.is_string();
            assert!(
                scoped,
                "{id}.{key} = {value}: a fixed name collides with a second stack"
            );
        }
    }
}

// --- Organization mode (the hub) ----------------------------------------------------------------

#[test]
fn without_organization_mode_the_stack_is_the_single_account_one() {
    let template = Template::load();
    let root = &template.root;
    assert_eq!(root["Parameters"]["OrganizationMode"]["Default"], "false");
    assert_eq!(
        root["Conditions"][ORGANIZATION],
        json!({"Fn::Equals": [{"Ref": "OrganizationMode"}, "true"]})
    );
    let conditional: BTreeSet<&str> = resources(root)
        .into_iter()
        .filter(|(_, resource)| resource["Condition"] == ORGANIZATION)
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        conditional,
        BTreeSet::from(ORGANIZATION_RESOURCES),
        "organization mode's resources, and only they, exist only under {ORGANIZATION}"
    );
    // Every other resource, as deployed without organization mode: each Fn::If on the condition
    // resolved away, none of organization mode's resources named, no fixed role name.
    let single = deployed(&root["Resources"], ORGANIZATION, false);
    for (name, resource) in single
        .as_object()
        .unwrap_or_else(|| fail("Resources is a mapping"))
    {
        // The default bus's policy: organization mode with a custom bus only.
        if ORGANIZATION_RESOURCES.contains(&name.as_str())
            || resource["Condition"] == "IsOrganizationWithCustomBus"
        {
            continue;
        }
        let text = resource.to_string();
        assert!(
            !text.contains(ORGANIZATION),
            "{name}: {ORGANIZATION} is used other than as the condition of an Fn::If"
        );
        for hub in ORGANIZATION_RESOURCES {
            assert!(
                !text.contains(&format!("\"{hub}\"")) && !text.contains(&format!("${{{hub}")),
                "{name} refers to {hub} without organization mode"
            );
        }
        assert!(
            resource["Properties"].get("RoleName").is_none(),
            "{name}: without organization mode CloudFormation names the roles, as before"
        );
    }
    let output = &root["Outputs"]["AuditQueueUrl"];
    assert_eq!(output["Condition"], ORGANIZATION);
    assert_eq!(output["Value"], json!({"Ref": "AuditQueue"}));
}

#[test]
fn organization_mode_is_refused_without_the_member_role_or_the_organization_id() {
    let template = Template::load();
    let rule = &template.root["Rules"]["OrganizationModeNamesTheMemberRoleAndTheOrganization"];
    assert_eq!(
        rule["RuleCondition"],
        json!({"Fn::Equals": [{"Ref": "OrganizationMode"}, "true"]})
    );
    let asserted: Vec<&Value> = rule["Assertions"]
        .as_array()
        .unwrap_or_else(|| fail("the rule has assertions"))
        .iter()
        .map(|assertion| &assertion["Assert"])
        .collect();
    assert_eq!(
        asserted,
        [
            &json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "MemberRoleName"}, ""]}]}),
            &json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]}),
        ],
        "every account is audited through the member role, and the bus admits the Organization by its id"
    );
    assert_eq!(
        template.root["Parameters"]["OrganizationId"]["AllowedPattern"],
        "^(|o-[a-z0-9]{10,32})$"
    );
}

#[test]
fn organization_mode_names_the_roles_the_member_role_trusts() {
    let template = Template::load();
    let member = podreach_tests::infra::load_infra("infra/member.yaml");
    let trusted: Vec<&str> = member["Parameters"]["HubRoleNames"]["Default"]
        .as_str()
        .unwrap_or_else(|| fail("infra/member.yaml's HubRoleNames has a default"))
        .split(',')
        .collect();
    let mut named = Vec::new();
    for (role, name) in HUB_ROLES {
        let resource = template.resource(role);
        assert_eq!(resource["Type"], "AWS::IAM::Role", "{role}");
        let role_name = &resource["Properties"]["RoleName"];
        if role == "AuditWorkerRole" {
            assert_eq!(
                resource["Condition"], ORGANIZATION,
                "{role} exists only in organization mode"
            );
            assert_eq!(*role_name, name, "{role}");
        } else {
            assert_eq!(
                role_name,
                &json!({"Fn::If": [ORGANIZATION, name, {"Ref": "AWS::NoValue"}]}),
                "{role} is named only in organization mode"
            );
        }
        named.push(name);
    }
    assert_eq!(
        named, trusted,
        "the hub's roles are named as infra/member.yaml's HubRoleNames, in its order (its trust \
         policy selects them by position)"
    );
}

#[test]
fn the_audit_worker_is_built_logged_and_placed_like_the_other_functions() {
    let template = Template::load();
    let worker = template.resource("AuditWorker");
    assert_eq!(worker["Type"], "AWS::Serverless::Function");
    assert_eq!(worker["Condition"], ORGANIZATION);
    assert_eq!(
        worker["Metadata"],
        json!({"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "audit-worker"}}),
        "AuditWorker is built from the cargo binary audit-worker"
    );
    let p = &worker["Properties"];
    assert_eq!(p["CodeUri"], "..");
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(p["Runtime"], "provided.al2023");
    assert!(
        p.get("Architectures").is_none(),
        "the architecture is the template's one value (Globals)"
    );
    assert_eq!(
        p["MemorySize"], 1024,
        "one Region of one account, as ScheduledAudit"
    );
    assert_eq!(p["Timeout"], 300);
    assert_eq!(p["Role"], json!({"Fn::GetAtt": ["AuditWorkerRole", "Arn"]}));
    assert!(
        p.get("Policies").is_none(),
        "permissions live in AuditWorkerRole only"
    );
    assert_eq!(
        p["FunctionName"],
        json!({"Fn::Sub": "${AWS::StackName}-audit-worker"})
    );
    assert!(
        p.get("ReservedConcurrentExecutions").is_none(),
        "AuditWorker is capped by its poller (AuditConcurrency); a reservation below that cap \
         would throttle targets"
    );
    assert_eq!(
        p["VpcConfig"],
        json!({"Fn::If": [
            "InVpc",
            {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}},
            {"Ref": "AWS::NoValue"}
        ]}),
        "AuditWorker runs in SubnetIds with SecurityGroupIds when both are set, as the others"
    );
    assert_eq!(
        p["LoggingConfig"],
        json!({"LogFormat": "JSON", "LogGroup": {"Ref": "AuditWorkerLogGroup"}})
    );
    let group = template.resource("AuditWorkerLogGroup");
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert_eq!(
        group["Properties"],
        json!({
            "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}-audit-worker"},
            "RetentionInDays": {"Ref": "LogRetentionDays"}
        }),
        "AuditWorkerLogGroup is the function's /aws/lambda/ group, with retention"
    );
}

/// SQS FIFO hands out at most one message of a group at a time: with the plan's groups
/// `<account>#<slot>` (slot < AccountConcurrency) and one target per invocation, at most
/// AccountConcurrency audits run in an account, and at most AuditConcurrency in all.
#[test]
fn the_audit_worker_takes_one_target_at_a_time_from_a_fifo_queue_within_audit_concurrency() {
    let template = Template::load();
    let number = |v: &Value, what: &str| {
        v.as_u64()
            .unwrap_or_else(|| fail(&format!("{what} is a number: {v}")))
    };
    let worker = &template.resource("AuditWorker")["Properties"];
    assert_eq!(
        worker["Events"],
        json!({"AuditTargets": {"Type": "SQS", "Properties": {
            "Queue": {"Fn::GetAtt": ["AuditQueue", "Arn"]},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": {"Ref": "AuditConcurrency"}}
        }}}),
        "one target per invocation, its failure reported alone, AuditConcurrency at once"
    );
    let parameters = &template.root["Parameters"];
    let audits = &parameters["AuditConcurrency"];
    assert_eq!(audits["Type"], "Number");
    assert_eq!(audits["MinValue"], 2, "SQS's least MaximumConcurrency");
    assert_eq!(
        audits["MaxValue"], 1000,
        "SQS's greatest MaximumConcurrency"
    );
    let per_account = &parameters["AccountConcurrency"];
    assert_eq!(per_account["Type"], "Number");
    assert_eq!(per_account["MinValue"], 1);
    assert_eq!(per_account["MaxValue"], 10);

    let queue = template.resource("AuditQueue");
    assert_eq!(queue["Type"], "AWS::SQS::Queue");
    let q = &queue["Properties"];
    assert_eq!(q["FifoQueue"], true, "message groups bound each account");
    assert_eq!(
        q["ContentBasedDeduplication"], false,
        "the plan sets MessageDeduplicationId <run>/<account>/<region>"
    );
    assert_eq!(
        q["QueueName"],
        json!({"Fn::Sub": "${AWS::StackName}-audit.fifo"}),
        "a FIFO queue's name ends in .fifo"
    );
    assert_eq!(q["SqsManagedSseEnabled"], true);
    assert_eq!(q["MessageRetentionPeriod"], 86_400, "a day");
    let timeout = number(&worker["Timeout"], "AuditWorker's Timeout");
    let visibility = number(&q["VisibilityTimeout"], "AuditQueue's VisibilityTimeout");
    assert!(
        visibility >= 6 * timeout,
        "VisibilityTimeout {visibility} >= 6 x AuditWorker's Timeout {timeout}"
    );
    assert_eq!(
        q["RedrivePolicy"],
        json!({
            "deadLetterTargetArn": {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]},
            "maxReceiveCount": 3
        })
    );
    let dead = template.resource("AuditDeadLetterQueue");
    assert_eq!(dead["Type"], "AWS::SQS::Queue");
    assert_eq!(
        dead["Properties"]["FifoQueue"], true,
        "a FIFO queue's dead-letter queue is FIFO"
    );
    assert_eq!(
        dead["Properties"]["QueueName"],
        json!({"Fn::Sub": "${AWS::StackName}-audit-dlq.fifo"})
    );
    assert_eq!(
        dead["Properties"]["MessageRetentionPeriod"], 1_209_600,
        "14 days"
    );
}

#[test]
fn the_hub_grants_exactly_the_plan_the_queue_and_the_runs_state() {
    let template = Template::load();
    let granted = |document: &Value| -> Vec<(Vec<String>, Value)> {
        statements(document)
            .iter()
            .map(|s| {
                assert_eq!(s["Effect"], "Allow");
                (actions(s), s["Resource"].clone())
            })
            .collect()
    };

    // The scheduled audit plans: the accounts, the Organization's tree (ExcludeOus), the queue.
    let plan = template.resource(ORGANIZATION_PLAN_POLICY);
    assert_eq!(plan["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(plan["Condition"], ORGANIZATION);
    let document = &plan["Properties"]["PolicyDocument"];
    let planned: BTreeSet<String> = statements(document).into_iter().flat_map(actions).collect();
    assert_eq!(
        planned,
        strings(&[
            "organizations:ListAccounts",
            "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent",
            "organizations:ListRoots",
            "sqs:SendMessage",
        ])
        .into_iter()
        .collect::<BTreeSet<String>>(),
        "exactly the plan's calls"
    );
    assert_eq!(
        granted(document),
        vec![
            (strings(&ORGANIZATIONS_STAR_ACTIONS), json!("*")),
            (
                strings(&[
                    "organizations:ListAccountsForParent",
                    "organizations:ListOrganizationalUnitsForParent"
                ]),
                json!([
                    {"Fn::Sub": "arn:${AWS::Partition}:organizations::*:root/${OrganizationId}/*"},
                    {"Fn::Sub": "arn:${AWS::Partition}:organizations::*:ou/${OrganizationId}/*"}
                ])
            ),
            (
                strings(&["sqs:SendMessage"]),
                json!({"Fn::GetAtt": ["AuditQueue", "Arn"]})
            ),
        ],
        "the listing without a resource type on *, the tree's walk in this Organization only, \
         and sending on the audit queue only"
    );
    assert_eq!(
        deployed(
            &template.resource("ScheduledAuditRole")["Properties"]["ManagedPolicyArns"],
            ORGANIZATION,
            true
        ),
        json!([
            {"Ref": "ReadOnlyCollectPolicy"},
            {"Fn::If": ["InVpc", {"Ref": LAMBDA_VPC_POLICY}, {"Ref": "AWS::NoValue"}]},
            {"Fn::If": ["HasMemberRole", {"Ref": MEMBER_ROLE_POLICY}, {"Ref": "AWS::NoValue"}]},
            {"Fn::If": ["HasSecurityHub", {"Ref": "SecurityHubImportPolicy"}, {"Ref": "AWS::NoValue"}]},
            {"Ref": ORGANIZATION_PLAN_POLICY}
        ]),
        "the scheduled audit plans in organization mode"
    );

    // The run's state: both roles that take part in a run, and only in organization mode.
    let state_actions = |role: &str, organization: bool| -> Vec<String> {
        let document = deployed(
            &template.resource(role)["Properties"]["Policies"][0]["PolicyDocument"],
            ORGANIZATION,
            organization,
        );
        let on_table = statements(&document)
            .into_iter()
            .find(|s| s["Resource"] == json!({"Fn::GetAtt": ["StateTable", "Arn"]}));
        actions(on_table.unwrap_or_else(|| fail(&format!("{role} has a statement on StateTable"))))
    };
    let lifecycle = strings(podreach_aws::iam::STATE_ACTIONS);
    let mut run = lifecycle.clone();
    run.extend(strings(&RUN_STATE_ACTIONS));
    assert_eq!(state_actions("ScheduledAuditRole", false), lifecycle);
    assert_eq!(state_actions("ScheduledAuditRole", true), run);
    assert_eq!(
        state_actions("OnChangeRole", true),
        lifecycle,
        "on-change takes no part in a run"
    );
    let mut work = lifecycle.clone();
    work.push(podreach_aws::iam::RUN_UPDATE.to_owned());
    assert_eq!(
        state_actions("AuditWorkerRole", true),
        work,
        "the worker counts and claims; only the plan writes a run's targets"
    );

    // The audit worker: the scheduled audit's collecting, publishing, state and suppressions, no
    // Security Hub import of its own (each account's goes through its member role), and the
    // queue's consumption.
    let worker = template.resource("AuditWorkerRole");
    assert_eq!(worker["Condition"], ORGANIZATION);
    let w = &worker["Properties"];
    assert_eq!(
        w["AssumeRolePolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]),
        "AuditWorkerRole is assumable by Lambda only"
    );
    assert_eq!(w["ManagedPolicyArns"], managed_policies("AuditWorker"));
    let policies = w["Policies"]
        .as_array()
        .unwrap_or_else(|| fail("AuditWorkerRole has an inline Policies list"));
    assert_eq!(policies.len(), 1, "AuditWorkerRole: one inline policy");
    assert_eq!(
        granted(&policies[0]["PolicyDocument"]),
        vec![
            (
                strings(&["logs:CreateLogStream", "logs:PutLogEvents"]),
                json!({"Fn::GetAtt": ["AuditWorkerLogGroup", "Arn"]})
            ),
            (strings(&["sns:Publish"]), json!({"Ref": "FindingsTopic"})),
            (work.clone(), json!({"Fn::GetAtt": ["StateTable", "Arn"]})),
            (
                strings(&[podreach_aws::iam::SUPPRESSIONS_ACTION]),
                json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SuppressionsParameter}"})
            ),
            (
                strings(&[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes"
                ]),
                json!({"Fn::GetAtt": ["AuditQueue", "Arn"]})
            ),
        ],
        "AuditWorkerRole: its own logs, the topic, the run's state, the suppressions and the \
         audit queue; nothing else"
    );
}

#[test]
fn the_scheduled_audit_and_the_audit_worker_read_exactly_the_agreed_variables() {
    let template = Template::load();
    let scheduled_audit =
        &template.resource("ScheduledAudit")["Properties"]["Environment"]["Variables"];
    let audit_worker = &template.resource("AuditWorker")["Properties"]["Environment"]["Variables"];
    let names = |variables: &Value| -> BTreeSet<String> {
        variables
            .as_object()
            .unwrap_or_else(|| fail("the environment variables are a mapping"))
            .keys()
            .cloned()
            .collect()
    };
    let audit = [
        "TOPIC_ARN",
        "MESSAGE_FORMAT",
        "DRY_RUN",
        "MIN_SEVERITY",
        "CLUSTERS",
        "MAX_CONCURRENCY",
        "STATE_TABLE",
        "SUPPRESSIONS_PARAMETER",
        "RENOTIFY_HOURS",
        "TCP_PORTS",
        "KUBERNETES_API",
        "MEMBER_ROLE_NAME",
        "MEMBER_EXTERNAL_ID",
        "SECURITY_HUB",
        "RUST_LOG",
    ];
    let plan = [
        "ORGANIZATION",
        "AUDIT_QUEUE_URL",
        "ACCOUNTS",
        "EXCLUDE_ACCOUNTS",
        "EXCLUDE_OUS",
        "ACCOUNT_CONCURRENCY",
    ];
    let mut scheduled: BTreeSet<String> = audit.iter().map(|n| (*n).to_owned()).collect();
    scheduled.insert("REGIONS".to_owned());
    scheduled.extend(plan.iter().map(|n| (*n).to_owned()));
    assert_eq!(
        names(scheduled_audit),
        scheduled,
        "the scheduled audit: an audit's settings, REGIONS, and the organization plan's"
    );
    assert_eq!(
        names(audit_worker),
        audit
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<BTreeSet<String>>(),
        "the audit worker: an audit's settings; each message names its account and Region"
    );
    for (function, variables) in [
        ("ScheduledAudit", scheduled_audit),
        ("AuditWorker", audit_worker),
    ] {
        assert_eq!(variables, &environment(function), "{function}'s values");
    }
    // Without organization mode the plan's settings are inert: ORGANIZATION is the parameter's
    // "false", and there is no queue to send to.
    assert_eq!(
        deployed(&scheduled_audit["AUDIT_QUEUE_URL"], ORGANIZATION, false),
        json!("")
    );
    assert_eq!(
        deployed(&scheduled_audit["AUDIT_QUEUE_URL"], ORGANIZATION, true),
        json!({"Ref": "AuditQueue"})
    );
}

#[test]
fn the_event_bus_admits_the_organizations_accounts_only() {
    let template = Template::load();
    let policies = template.resources_of_type("AWS::Events::EventBusPolicy");
    assert_eq!(policies.len(), 2, "the rules' two buses");
    let named = |wanted: &str| {
        policies
            .iter()
            .find(|(name, _)| name.as_str() == wanted)
            .map(|(_, policy)| *policy)
            .unwrap_or_else(|| fail(&format!("{wanted} exists")))
    };
    let policy = named("OrganizationEventBusPolicy");
    assert_eq!(policy["Condition"], ORGANIZATION);
    let p = &policy["Properties"];
    assert_eq!(
        p["EventBusName"],
        template.resource("PodScaling")["Properties"]["EventBusName"],
        "the bus the Kubernetes events rule listens on"
    );
    assert_eq!(p["StatementId"], "podreach-organization");
    assert_eq!(
        p["Statement"],
        json!({
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"},
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
        }),
        "any principal, but only of the Organization (aws:PrincipalOrgID), may put events"
    );
    // The AWS services' rules listen on the default bus: opened too when EventBusName is not it.
    let default_bus = named("OrganizationDefaultBusPolicy");
    assert_eq!(default_bus["Condition"], "IsOrganizationWithCustomBus");
    assert_eq!(
        template.root["Conditions"]["IsOrganizationWithCustomBus"],
        json!({"Fn::And": [
            {"Condition": ORGANIZATION},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "EventBusName"}, "default"]}]}
        ]})
    );
    assert_eq!(default_bus["Properties"]["EventBusName"], "default");
    assert_eq!(
        default_bus["Properties"]["Statement"]["Condition"],
        p["Statement"]["Condition"]
    );
    // The hub's on-change audits the members' forwarded events: the member stacks forward.
    let member = podreach_tests::infra::load_infra("infra/member.yaml");
    assert_eq!(member["Parameters"]["ForwardEvents"]["Default"], "true");
}
