//! Docker's query-string conventions: booleans as `1`/`true`, and `filters`
//! as JSON in either of its shapes (`{"k":["v"]}` or the older
//! `{"k":{"v":true}}`), turned into the `k=v` strings the engine parses
//! for the CLI's `--filter`.

use crate::error::ApiError;

/// Docker's boolean query values: "", "0", "false" (any case) and "no" are
/// false; anything else given is true.
pub fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        !(v.is_empty() || v == "0" || v == "false" || v == "no")
    })
}

/// `filters=` as `key=value` strings, in the order given.
pub fn filters(raw: Option<&String>) -> Result<Vec<String>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(Vec::new());
    };
    let bad = |e: String| ApiError::bad_request(format!("invalid filter: {e}"));
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(bad(format!("{raw} is not an object")));
    };
    let mut out = Vec::new();
    for (key, values) in map {
        match values {
            serde_json::Value::Array(list) => {
                for v in list {
                    let v = v
                        .as_str()
                        .ok_or_else(|| bad(format!("value of {key} is not a string")))?;
                    out.push(format!("{key}={v}"));
                }
            }
            serde_json::Value::Object(set) => {
                for (v, on) in set {
                    if on.as_bool() == Some(true) {
                        out.push(format!("{key}={v}"));
                    }
                }
            }
            _ => return Err(bad(format!("value of {key} is not a list"))),
        }
    }
    Ok(out)
}

/// The values of one filter key.
pub fn values<'a>(filters: &'a [String], key: &str) -> impl Iterator<Item = &'a str> {
    filters
        .iter()
        .filter_map(move |f| f.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filter_shapes() {
        let a = filters(Some(&r#"{"status":["exited","created"]}"#.to_string())).unwrap();
        assert_eq!(a, ["status=exited", "status=created"]);
        let b = filters(Some(&r#"{"label":{"a=b":true,"c":false}}"#.to_string())).unwrap();
        assert_eq!(b, ["label=a=b"]);
        assert_eq!(filters(Some(&"{".to_string())).unwrap_err().status, 400);
        assert!(truthy(Some(&"1".into())) && !truthy(Some(&"false".into())) && !truthy(None));
    }
}
