//! `infra/member.yaml`, the member-account stack of an organization deployment (a service-managed
//! StackSet; cfn-lint checks it with the other templates, in `template.rs`): a role that only the hub's function roles can assume (with the
//! ExternalId when one is set), that reads exactly what `infra/iam/podreach-read-only.json`
//! grants and may import findings only into its own account's Security Hub; created in one
//! Region per account (IAM is global); and forwarding rules that are the hub's, pattern for
//! pattern, sending to the hub account's buses.

use podreach_tests::infra::{load_infra, load_template, repo_root, resources};
use serde_json::{Value, json};

fn member() -> Value {
    load_infra("infra/member.yaml")
}

fn role_arn(index: usize) -> Value {
    json!({"Fn::Sub": [
        "arn:${AWS::Partition}:iam::${HubAccountId}:role/${Name}",
        {"Name": {"Fn::Select": [index, {"Ref": "HubRoleNames"}]}}
    ]})
}

#[test]
fn only_the_hubs_function_roles_may_assume_the_member_role_with_the_external_id_when_set() {
    let template = member();
    let role = &template["Resources"]["MemberRole"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    assert_eq!(
        role["Condition"], "CreateMemberRole",
        "one stack instance per account creates the role: IAM is global"
    );
    let p = &role["Properties"];
    assert_eq!(p["RoleName"], json!({"Ref": "MemberRoleName"}));
    let trust = p["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    assert_eq!(trust.len(), 1, "one way in");
    let t = &trust[0];
    assert_eq!(t["Effect"], "Allow");
    assert_eq!(t["Action"], "sts:AssumeRole");
    assert_eq!(
        t["Principal"],
        json!({"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:root"}})
    );
    assert_eq!(
        t["Condition"]["ArnEquals"]["aws:PrincipalArn"],
        json!([role_arn(0), role_arn(1), role_arn(2)]),
        "exactly the three roles of HubRoleNames in the hub account"
    );
    assert_eq!(
        t["Condition"]["StringEquals"],
        json!({"Fn::If": ["HasExternalId", {"sts:ExternalId": {"Ref": "ExternalId"}}, {"Ref": "AWS::NoValue"}]})
    );
    assert_eq!(
        template["Conditions"]["HasExternalId"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]})
    );
    assert_eq!(template["Parameters"]["ExternalId"]["NoEcho"], true);
    let defaults: Vec<&str> = template["Parameters"]["HubRoleNames"]["Default"]
        .as_str()
        .expect("a default")
        .split(',')
        .collect();
    assert_eq!(defaults.len(), 3, "the trust selects three names");
}

#[test]
fn the_member_role_reads_what_the_policy_file_grants_and_imports_only_into_its_own_security_hub() {
    let template = member();
    let policies = template["Resources"]["MemberRole"]["Properties"]["Policies"]
        .as_array()
        .expect("inline policies");
    assert_eq!(policies.len(), 1);
    let statements = policies[0]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("infra/iam/podreach-read-only.json"))
            .expect("the policy file is readable"),
    )
    .expect("the policy file is JSON");
    let read_only = file["Statement"].as_array().expect("statements");
    assert_eq!(
        &statements[..read_only.len()],
        &read_only[..],
        "the read statements are the file's, in its order"
    );
    assert_eq!(
        &statements[read_only.len()..],
        &[json!({
            "Sid": "ImportFindingsAsThisAccountsDefaultProduct",
            "Effect": "Allow",
            "Action": "securityhub:BatchImportFindings",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"}
        })][..],
        "and nothing else but the import into this account's own default product"
    );
    assert!(
        template["Resources"]["MemberRole"]["Properties"]
            .get("ManagedPolicyArns")
            .is_none(),
        "no managed policy widens it"
    );
}

#[test]
fn the_member_forwards_the_hubs_events_by_the_hubs_patterns_to_the_hub_accounts_buses() {
    let hub = load_template();
    let template = member();
    let mut expected: Vec<(&String, &Value)> = resources(&hub)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
        .filter(|(_, r)| r["Properties"].get("EventPattern").is_some())
        .collect();
    expected.sort_by_key(|(name, _)| name.as_str());
    let mut rules: Vec<(&String, &Value)> = resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
        .collect();
    rules.sort_by_key(|(name, _)| name.as_str());
    let names = |list: &[(&String, &Value)]| -> Vec<String> {
        list.iter().map(|(n, _)| (*n).clone()).collect()
    };
    assert_eq!(names(&rules), names(&expected), "one rule per hub rule");
    let bus = |name: &str| {
        json!({"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:events:${{HubRegion}}:${{HubAccountId}}:event-bus/{name}"
        )})
    };
    for ((name, rule), (_, theirs)) in rules.iter().zip(&expected) {
        assert_eq!(rule["Condition"], "Forward", "{name}");
        let p = &rule["Properties"];
        assert_eq!(
            p["EventPattern"], theirs["Properties"]["EventPattern"],
            "{name}'s pattern is the hub's"
        );
        let sends_to = if theirs["Properties"].get("EventBusName").is_some() {
            assert_eq!(p["EventBusName"], json!({"Ref": "EventBusName"}));
            bus("${HubEventBusName}")
        } else {
            assert!(p.get("EventBusName").is_none(), "{name} listens on default");
            bus("default")
        };
        let targets = p["Targets"].as_array().expect("targets");
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0]["Arn"], sends_to, "{name}");
        assert_eq!(
            targets[0]["RoleArn"],
            json!({"Fn::GetAtt": ["ForwardRole", "Arn"]})
        );
    }
    let forward = &template["Resources"]["ForwardRole"]["Properties"];
    assert_eq!(
        forward["Policies"][0]["PolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": [bus("default"), bus("${HubEventBusName}")]
        }]),
        "the forwarding role may put events on the hub's two buses and nothing else"
    );
}
