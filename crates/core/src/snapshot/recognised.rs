//! What reading one file comes to, whichever reader recognised it: a typed document (and why it
//! is incomplete, when it is) or a reason to skip the file. Both readers (`fast`, `recognise`)
//! produce it and `read` dispatches on it, so it sits below all three.

use super::document::Document;

pub(super) enum Recognised {
    /// A document, and why it is incomplete when it is.
    Document(Box<Document>, Option<String>),
    Skip(String),
    /// A kubectl list without items: it says there is nothing, which is not worth a word (an
    /// empty `kubectl get eniconfigs` is the normal state of most clusters).
    Empty,
}

/// Why a document that carries `NextToken` is incomplete.
pub(super) const CUT_SHORT: &str = "the output carries `NextToken`: it was cut short \
                                    (`--max-items` or `--no-paginate`), so objects are \
                                    missing; rerun the command without them";
