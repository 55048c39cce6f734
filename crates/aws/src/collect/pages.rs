//! Paging: every list call of the collection goes through [`paginate!`], one permit per page.
//!
//! The account's EC2 request budget is shared with the VPC CNI's IP management on every node
//! (the module docs of `collect`), so the unit the permits count is a page, not a call: a
//! paginated DescribeNetworkInterfaces of 5,000 ENIs is five requests. Each item is converted
//! as it arrives (`crate::convert`), and what arrived before a failure is kept ([`Pages`]), so
//! each caller decides whether part of an answer is worth having: a lookup by id wants all of it
//! ([`Pages::complete`]), a VPC's inputs keep what they got and mark the cluster incomplete. A
//! macro, not a generic function, because each SDK fluent builder's `into_paginator` is an
//! inherent method and each page names its items differently: the SDK has no trait to be
//! generic over. The few request filters every phase builds live here too.

use aws_sdk_ec2::types::Filter;

use crate::convert::MissingField;
use crate::error::ApiFailure;

/// Items of a paginated call: what arrived before a failure is kept.
pub(super) struct Pages<T> {
    pub(super) items: Vec<T>,
    pub(super) missing: Vec<MissingField>,
    pub(super) failure: Option<ApiFailure>,
}

impl<T> Pages<T> {
    /// No call made (nothing to ask about): no items, no failure.
    pub(super) fn empty() -> Self {
        Pages {
            items: Vec::new(),
            missing: Vec::new(),
            failure: None,
        }
    }

    /// Every item, or the failure: for lookups where part of an answer is no answer.
    pub(super) fn complete(self) -> Result<Vec<T>, ApiFailure> {
        match self.failure {
            Some(failure) => Err(failure),
            None => Ok(self.items),
        }
    }
}

/// Drives an SDK paginator, one permit per page, converting each item.
macro_rules! paginate {
    ($self:expr, $action:expr, $request:expr, $items:ident, $convert:expr) => {{
        let mut stream = $request.into_paginator().send();
        let mut pages = $crate::collect::pages::Pages {
            items: Vec::new(),
            missing: Vec::new(),
            failure: None,
        };
        loop {
            let page = {
                let _permit = $self.permit().await;
                stream.next().await
            };
            match page {
                None => break,
                Some(Err(error)) => {
                    pages.failure = Some($crate::error::ApiFailure::from_sdk($action, error));
                    break;
                }
                Some(Ok(page)) => {
                    for item in page.$items() {
                        match $convert(item) {
                            Ok(value) => pages.items.push(value),
                            Err(missing) => pages.missing.push(missing),
                        }
                    }
                }
            }
        }
        pages
    }};
}
pub(crate) use paginate;

/// Instances that are nodes or about to be: pending and running (a stopped or terminated
/// instance has no pods).
pub(super) fn live_instances() -> Filter {
    filter(
        "instance-state-name",
        ["pending".to_owned(), "running".to_owned()],
    )
}

pub(super) fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}
