//! What a finding's fixes are computed from, shared by the CNI and route fixes
//! (`remediation`) and the security-group and ACL fixes (`filter_fixes`): a [`Witness`] is one
//! failing path of the finding, and [`push_once`] keeps a fix list free of repeats. Both fix
//! modules import this one and not each other's internals.

use crate::report::Remediation;
use crate::verdict::{Block, ClassKey, Evaluation, SourceAtPeer};

/// One failing path of a finding: the ENI class, the block and its evaluation. A finding keeps
/// one witness per destination route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Witness<'v> {
    pub class: &'v ClassKey,
    pub block: &'v Block,
    pub evaluation: &'v Evaluation,
}

impl Witness<'_> {
    /// The subnet of the ENI the packet toward the peer leaves by.
    pub(crate) fn egress_subnet(&self) -> &str {
        if self.evaluation.egress_primary {
            &self.class.node_subnet
        } else {
            &self.class.eni_subnet
        }
    }

    /// The subnet of the address the far side sees.
    pub(crate) fn source_subnet(&self) -> &str {
        match self.evaluation.source {
            SourceAtPeer::NodeIp => &self.class.node_subnet,
            SourceAtPeer::PodIp => &self.class.eni_subnet,
        }
    }
}

/// Adds `fix` unless the same fix is already listed.
pub(crate) fn push_once(fixes: &mut Vec<Remediation>, fix: Remediation) {
    if !fixes
        .iter()
        .any(|f| f.action == fix.action && f.command == fix.command)
    {
        fixes.push(fix);
    }
}
