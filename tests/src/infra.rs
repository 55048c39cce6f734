//! The deployment files as the tests read them: the repository root, the workspace's built
//! binaries, and `infra/template.yaml`
//! as JSON with CloudFormation's short tags (`!Ref`, `!GetAtt a.b`, `!Sub`, …) in their long
//! form (`{"Ref": …}`, `{"Fn::GetAtt": [a, b]}`, `{"Fn::Sub": …}`), so a test compares a
//! resource with a `json!` literal. Shared by the template, event-pattern and function tests.
//! [`resources`] lists the template's resources, those an `Fn::ForEach` loop generates included.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::fail;

/// The repository root (the tests crate lives in `<repo>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in <repo>/tests")
        .to_path_buf()
}

/// A binary of the workspace built in the profile these tests run in (`target/debug/<name>`, or
/// under `CARGO_TARGET_DIR`): found next to the running test executable, which lives in
/// `<target>/<profile>/deps/`. `./scripts/test` builds every binary before the tests; a missing
/// one fails the test with the command that builds it.
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable knows its path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in <target>/<profile>/deps/");
    let path = profile_dir.join(name);
    if !path.is_file() {
        fail(&format!(
            "{} is missing: build the workspace's binaries first with `cargo build --workspace --bins` \
             (./scripts/test does)",
            path.display()
        ));
    }
    path
}

/// `infra/template.yaml` as JSON, short tags in long form.
pub fn load_template() -> Value {
    load_infra("infra/template.yaml")
}

/// A template of the repository (`infra/…`) as JSON, short tags in long form.
pub fn load_infra(relative: &str) -> Value {
    let path = repo_root().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| fail(&format!("{relative} is not readable: {e}")));
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| fail(&format!("{relative} is not YAML: {e}")));
    yaml_to_json(yaml)
}

/// Every resource of `template` with its logical id, including the resources `Fn::ForEach` loops
/// generate (the `AWS::LanguageExtensions` transform). A loop is an entry of `Resources` named
/// `Fn::ForEach::Name` whose value is the list `[identifier, collection, fragment]`, not a
/// resource; its fragment's resources are listed under their templated ids
/// (`OnChangeAccessEntry&{Cluster}`), nested loops too, so a check of every resource also covers
/// those the loop will create.
pub fn resources(template: &Value) -> Vec<(&String, &Value)> {
    let mut found = Vec::new();
    collect_resources(
        template["Resources"]
            .as_object()
            .unwrap_or_else(|| fail("Resources is a mapping")),
        &mut found,
    );
    found
}

fn collect_resources<'a>(
    mapping: &'a serde_json::Map<String, Value>,
    found: &mut Vec<(&'a String, &'a Value)>,
) {
    for (name, value) in mapping {
        if name.starts_with("Fn::ForEach::") {
            let fragment = value
                .as_array()
                .filter(|parts| parts.len() == 3)
                .and_then(|parts| parts[2].as_object())
                .unwrap_or_else(|| {
                    fail(&format!(
                        "{name} is not [identifier, collection, {{fragment}}]"
                    ))
                });
            collect_resources(fragment, found);
        } else {
            found.push((name, value));
        }
    }
}

/// Converts YAML to JSON, turning CloudFormation's short tags into their long form.
pub fn yaml_to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_u64() {
                json!(i)
            } else if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                json!(n.as_f64().expect("a YAML number is an integer or a float"))
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Mapping(mapping) => Value::Object(
            mapping
                .into_iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(s) => s,
                        other => fail(&format!("a mapping key is not a string: {other:?}")),
                    };
                    (key, yaml_to_json(value))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(tagged.value);
            match (name, inner) {
                ("Ref", inner) => json!({ "Ref": inner }),
                ("Condition", inner) => json!({ "Condition": inner }),
                ("GetAtt", Value::String(dotted)) => {
                    let (resource, attribute) = dotted
                        .split_once('.')
                        .unwrap_or_else(|| fail(&format!("!GetAtt {dotted} has no attribute")));
                    json!({ "Fn::GetAtt": [resource, attribute] })
                }
                (function, inner) => json!({ format!("Fn::{function}"): inner }),
            }
        }
    }
}
