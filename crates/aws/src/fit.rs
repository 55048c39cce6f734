//! Messages built to a byte budget: SNS refuses a message (body, subject and attributes) above
//! 256 KiB, and Chatbot shows a bounded description, so what does not fit is cut — the least
//! important part first, never silently: every cut says how many items it left out.
//!
//! Two shapes need it. A JSON body ([`fit_json`]) is cut by halving its largest array until the
//! whole fits, each cut counted under `omitted` by its path (`"findings": 1412`), so a consumer
//! knows the list is partial and by how much; the arrays keep their first items, and every list
//! podreach sends is sorted most important first (findings by severity, states by age). A
//! Markdown description ([`fit_lines`]) keeps whole lines in order until the next would not fit,
//! then says how many lines it left out and where the rest is.

use serde_json::{Map, Value};

/// `value` cut until its JSON is at most `budget` bytes: the largest array halved, again and
/// again; each array cut is counted in `value["omitted"]` under its path (dot-separated keys),
/// and `hint` is added as `value["omitted_hint"]` when anything was. A value whose strings alone
/// exceed the budget has its longest strings shortened last.
pub fn fit_json(mut value: Value, budget: usize, hint: &str) -> Value {
    let mut omitted: Map<String, Value> = Map::new();
    let overhead =
        |omitted: &Map<String, Value>| len(&Value::Object(omitted.clone())) + hint.len() + 40;
    let mut size = len(&value);
    while size > budget {
        let mut best = None;
        sizes(&value, &mut Vec::new(), &mut best);
        let Some((path, items, _)) = best else {
            break;
        };
        let Some(Value::Array(list)) = pointer_mut(&mut value, &path) else {
            break;
        };
        let keep = items / 2;
        list.truncate(keep);
        let key = path.join(".");
        let before = omitted.get(&key).and_then(Value::as_u64).unwrap_or(0);
        omitted.insert(key, Value::from(before + (items - keep) as u64));
        size = len(&value) + overhead(&omitted);
    }
    while size > budget {
        let mut best = None;
        longest_string(&value, &mut Vec::new(), &mut best);
        let Some((path, _)) = best else {
            break;
        };
        let Some(Value::String(text)) = pointer_mut(&mut value, &path) else {
            break;
        };
        let mut cut = text.len().saturating_sub(size - budget + 64);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" … (cut)");
        size = len(&value) + overhead(&omitted);
        if cut == 0 {
            break;
        }
    }
    if !omitted.is_empty()
        && let Some(object) = value.as_object_mut()
    {
        object.insert("omitted".to_owned(), Value::Object(omitted));
        object.insert("omitted_hint".to_owned(), Value::from(hint));
    }
    value
}

/// `lines` joined while they fit `max` bytes, then one line saying how many were left out and
/// `hint` (where the rest is).
pub fn fit_lines<S: AsRef<str>>(lines: &[S], max: usize, hint: &str) -> String {
    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        let left = lines.len() - index;
        let tail = format!("… and {left} more line(s): {hint}\n");
        let more = index + 1 < lines.len();
        let room = if more { tail.len() } else { 0 };
        if out.len() + line.len() + 1 + room > max {
            if out.len() + tail.len() <= max {
                out.push_str(&tail);
            }
            return out;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn len(value: &Value) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |s| s.len())
}

/// The serialised size of `value`, computed once bottom-up, noting in `best` the non-empty
/// array of the most bytes (its path, items and bytes).
fn sizes(
    value: &Value,
    path: &mut Vec<String>,
    best: &mut Option<(Vec<String>, usize, usize)>,
) -> usize {
    match value {
        Value::Array(items) => {
            let mut total = 2 + items.len().saturating_sub(1);
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                total += sizes(item, path, best);
                path.pop();
            }
            if !items.is_empty() && best.as_ref().is_none_or(|(_, _, b)| total > *b) {
                *best = Some((path.clone(), items.len(), total));
            }
            total
        }
        Value::Object(fields) => {
            let mut total = 2 + fields.len().saturating_sub(1);
            for (key, field) in fields {
                path.push(key.clone());
                total += len(&Value::from(key.as_str())) + 1 + sizes(field, path, best);
                path.pop();
            }
            total
        }
        scalar => len(scalar),
    }
}

/// The path and length of the longest string.
fn longest_string(value: &Value, path: &mut Vec<String>, best: &mut Option<(Vec<String>, usize)>) {
    match value {
        Value::String(s) if best.as_ref().is_none_or(|(_, n)| s.len() > *n) => {
            *best = Some((path.clone(), s.len()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                longest_string(item, path, best);
                path.pop();
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                path.push(key.clone());
                longest_string(field, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

fn pointer_mut<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, key| match v {
        Value::Array(items) => items.get_mut(key.parse::<usize>().ok()?),
        Value::Object(fields) => fields.get_mut(key),
        _ => None,
    })
}
