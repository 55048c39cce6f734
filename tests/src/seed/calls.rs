//! What every seeding call shares: the error text of a failed SDK call (with its whole chain of
//! causes) or of a field its answer lacks, the tag specifications of a create call (the demo's
//! ids in tags rewritten to moto's), and request filters.
//!
//! Every seeding step returns `Result<_, String>` so that a failure names the operation and the
//! demo object it was for; these helpers keep those messages in one form across the steps.

use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use podreach_core::raw;

use super::SeededDemo;

/// Formats an SDK error with its whole chain of causes.
pub(super) fn sdk<E: std::error::Error>(
    operation: &'static str,
    what: &str,
) -> impl FnOnce(E) -> String {
    let what = what.to_owned();
    move |e| format!("{operation} ({what}): {}", DisplayErrorContext(&e))
}

pub(super) fn missing(operation: &str, field: &str) -> String {
    format!("{operation} returned no {field}")
}

pub(super) fn tag_specs<'a>(
    resource: ResourceType,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Vec<TagSpecification>> {
    let tags: Vec<Tag> = tags
        .into_iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    (!tags.is_empty()).then(|| {
        vec![
            TagSpecification::builder()
                .resource_type(resource)
                .set_tags(Some(tags))
                .build(),
        ]
    })
}

/// Demo tags with demo ids in keys and values rewritten to moto ids.
pub(super) fn moto_tags(seeded: &SeededDemo, tags: &[raw::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (seeded.to_moto_ids(&t.key), seeded.to_moto_ids(&t.value)))
        .collect()
}

pub(super) fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

pub(super) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}
