//! Messages cut to a byte budget (`podreach_aws::fit`): whatever the shape, the JSON fits when
//! its structure alone can, keeps each list's first items, and counts every item it left out.

use podreach_aws::fit::{fit_json, fit_lines};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Lists of lists of strings, under keys, as findings and states are.
fn document() -> impl Strategy<Value = Value> {
    let item = "[a-z0-9./-]{0,40}".prop_map(Value::from);
    let list = proptest::collection::vec(item, 0..200).prop_map(Value::from);
    let records = proptest::collection::vec(
        (list.clone(), "[a-z ]{0,60}").prop_map(|(l, t)| json!({"title": t, "items": l})),
        0..60,
    );
    (records, list, any::<u32>())
        .prop_map(|(records, list, n)| json!({"count": n, "records": records, "names": list}))
}

/// How many leaf items `value` holds under every `items`/`names` list, and records.
fn counts(value: &Value) -> (u64, u64) {
    let records = value["records"].as_array().map_or(0, Vec::len) as u64;
    let names = value["names"].as_array().map_or(0, Vec::len) as u64;
    (records, names)
}

proptest! {
    // Each case serialises its document a few dozen times in a debug build: 24 cases keep the
    // file to seconds.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_cut_document_fits_and_counts_what_it_left_out(doc in document(), budget in 200usize..20_000) {
        let before = counts(&doc);
        let fitted = fit_json(doc.clone(), budget, "see the report");
        let size = fitted.to_string().len();
        // The skeleton (keys, the count, the notes) is small: everything else can be cut.
        prop_assert!(size <= budget, "{size} > {budget}");
        let after = counts(&fitted);
        let omitted = |key: &str| fitted["omitted"][key].as_u64().unwrap_or(0);
        prop_assert_eq!(after.0 + omitted("records"), before.0);
        prop_assert_eq!(after.1 + omitted("names"), before.1);
        prop_assert_eq!(&fitted["count"], &doc["count"], "scalars are never cut");
        // The first items are kept, in order.
        if let (Some(cut), Some(full)) = (fitted["names"].as_array(), doc["names"].as_array()) {
            prop_assert_eq!(&full[..cut.len()], &cut[..]);
        }
        if fitted.get("omitted").is_none() {
            prop_assert_eq!(&fitted, &doc, "a document that fits is untouched");
        }
    }

    #[test]
    fn lines_are_kept_whole_in_order_and_the_rest_is_counted(
        lines in proptest::collection::vec("[a-z ]{0,80}", 0..300),
        max in 120usize..4_000,
    ) {
        let text = fit_lines(&lines, max, "see the report");
        prop_assert!(text.len() <= max, "{} > {max}", text.len());
        let kept: Vec<&str> = text.lines().take_while(|l| !l.starts_with("… and ")).collect();
        prop_assert_eq!(&lines[..kept.len()], &kept[..]);
        if kept.len() < lines.len() {
            let tail = format!("… and {} more line(s): see the report", lines.len() - kept.len());
            prop_assert!(text.ends_with(&format!("{tail}\n")), "{text}");
        }
    }
}
