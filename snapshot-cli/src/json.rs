//! Converting snapshot values to and from JSON.
//!
//! JSON has no byte strings, no extension values and no NaN or infinities, so those are
//! written as small tagged objects that `put` reads back:
//! `{"$bytes": "<hex>"}`, `{"$ext": <type id>, "hex": "<payload hex>", "type": ..., "value": ...}`
//! (the last two for information, when the type is known) and `{"$float": "NaN"}`
//! (or `"inf"`, `"-inf"`).

use serde_json::{Map as JsonMap, Number, Value as Json, json};
use snapshot::{Ext, Map, Registry, Value};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {text:?}"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("invalid hex {text:?}"))
        })
        .collect()
}

fn float_json(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => json!({"$float": "NaN"}),
        None if f > 0.0 => json!({"$float": "inf"}),
        None => json!({"$float": "-inf"}),
    }
}

/// A snapshot value as JSON.
pub fn to_json(value: &Value, registry: &Registry) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Json::Number(u.into()),
            (_, Some(n)) => Json::Number(n.into()),
            _ => Json::Null,
        },
        Value::Float(f) => float_json(*f),
        // The shortest text that reads back as the same f32 (0.1, not 0.10000000149...).
        Value::Float32(f) => float_json(f.to_string().parse().unwrap_or(f64::from(*f))),
        Value::Array(a) => {
            Json::Array(a.to_values().iter().map(|v| to_json(v, registry)).collect())
        }
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => json!({"$bytes": hex(b)}),
        Value::List(items) => Json::Array(items.iter().map(|v| to_json(v, registry)).collect()),
        Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.to_string(), to_json(v, registry)))
                .collect(),
        ),
        Value::Ext(e) => {
            let mut obj = JsonMap::new();
            obj.insert("$ext".into(), e.type_id().into());
            if let Some(name) = registry.name(e.type_id()) {
                obj.insert("type".into(), name.into());
                match registry.describe(e) {
                    Ok(Some(text)) => {
                        obj.insert("value".into(), text.into());
                    }
                    Ok(None) => {}
                    Err(err) => {
                        obj.insert("invalid".into(), err.to_string().into());
                    }
                }
            }
            obj.insert("hex".into(), hex(e.data()).into());
            Json::Object(obj)
        }
    }
}

/// A JSON document as a snapshot value.
///
/// # Errors
/// A message for malformed tagged objects.
pub fn from_json(json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::Float(
                    n.as_f64()
                        .ok_or_else(|| format!("number {n} out of range"))?,
                )
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect::<Result<_, _>>()?),
        Json::Object(obj) => {
            if let Some(tagged) = from_tagged(obj)? {
                return Ok(tagged);
            }
            let mut map = Map::with_capacity(obj.len());
            for (k, v) in obj {
                map.insert(k.clone(), from_json(v)?);
            }
            Value::Map(map)
        }
    })
}

fn from_tagged(obj: &JsonMap<String, Json>) -> Result<Option<Value>, String> {
    if let (1, Some(Json::String(h))) = (obj.len(), obj.get("$bytes")) {
        return Ok(Some(Value::Bytes(unhex(h)?)));
    }
    if let (1, Some(Json::String(f))) = (obj.len(), obj.get("$float")) {
        let value = match f.as_str() {
            "NaN" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => return Err(format!("unknown $float {other:?}")),
        };
        return Ok(Some(Value::Float(value)));
    }
    if let Some(id) = obj.get("$ext") {
        let id = id.as_u64().ok_or("$ext must be a non-negative integer")?;
        let payload = obj
            .get("hex")
            .and_then(Json::as_str)
            .ok_or("$ext needs a \"hex\" payload")?;
        return Ok(Some(Value::from(Ext::new(id, unhex(payload)?))));
    }
    Ok(None)
}

/// Checks JSON text for what parsing into `serde_json::Value` would change silently:
/// integers beyond `i64`/`u64` (read as floats) and keys repeated in one object (all
/// but the last dropped). The text must already have parsed as JSON.
///
/// # Errors
/// A message naming the value and its path, such as `.a[2].b`.
pub fn check_exact(text: &[u8]) -> Result<(), String> {
    enum Frame {
        Array(usize),
        Object {
            key: Option<String>,
            expecting_key: bool,
            seen: std::collections::HashSet<String>,
        },
    }
    fn path(stack: &[Frame]) -> String {
        let mut out = String::new();
        for frame in stack {
            match frame {
                Frame::Array(i) => out += &format!("[{i}]"),
                Frame::Object { key: Some(k), .. } => {
                    let ident = k
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if ident {
                        out += &format!(".{k}");
                    } else {
                        out += &format!("[{k:?}]");
                    }
                }
                Frame::Object { key: None, .. } => {}
            }
        }
        if out.is_empty() { ".".into() } else { out }
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                let raw = &text[start..(i + 1).min(text.len())];
                if let Some(Frame::Object {
                    key,
                    expecting_key: expecting @ true,
                    seen,
                }) = stack.last_mut()
                {
                    let name: String = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
                    *expecting = false;
                    *key = Some(name.clone());
                    if !seen.insert(name.clone()) {
                        return Err(format!(
                            "key {name:?} appears twice in one object at {}; a snapshot map holds each key once",
                            path(&stack)
                        ));
                    }
                }
            }
            b'{' => stack.push(Frame::Object {
                key: None,
                expecting_key: true,
                seen: Default::default(),
            }),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(index)) => *index += 1,
                Some(Frame::Object { expecting_key, .. }) => *expecting_key = true,
                None => {}
            },
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i + 1 < text.len()
                    && matches!(text[i + 1], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let token = std::str::from_utf8(&text[start..=i]).unwrap_or_default();
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Err(format!(
                        "integer {token} at {} is outside the range snapshots hold exactly (-2^63 to 2^64-1); it would change if stored as a float, so write it as a string",
                        path(&stack)
                    ));
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshot::value;

    #[test]
    fn tagged_values_round_trip_through_json() {
        let v = value!({
            "b": (Value::Bytes(vec![0, 255])),
            "e": (Ext::new(300, vec![1, 2])),
            "nan": (f64::NAN),
            "inf": (f64::INFINITY),
            "big": (u64::MAX),
            "neg": (i64::MIN),
            "f": 1.5,
            "list": [1, "two", null],
        });
        let registry = Registry::new();
        let json = to_json(&v, &registry);
        assert_eq!(json["b"], json!({"$bytes": "00ff"}));
        assert_eq!(from_json(&json).unwrap(), v);
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["b", "e", "nan", "inf", "big", "neg", "f", "list"],
            "order is kept"
        );
    }

    #[test]
    fn values_json_would_change_are_refused_with_their_path() {
        let big = br#"{"a": [1, {"b": 2, "big": 123456789012345678901234567890}]}"#;
        let err = check_exact(big).unwrap_err();
        assert!(
            err.contains("123456789012345678901234567890 at .a[1].big"),
            "{err}"
        );
        assert!(check_exact(br#"{"n": -9223372036854775809}"#).is_err());
        let dup = br#"{"x": {"k\"ey": 1, "k\"ey": 2}}"#;
        let err = check_exact(dup).unwrap_err();
        assert!(
            err.contains(r#"key "k\"ey" appears twice"#) && err.contains(" at .x"),
            "{err}"
        );
        for fine in [
            &br#"{"max": 18446744073709551615, "min": -9223372036854775808, "f": 1e300, "g": -0.5}"#[..],
            br#"["{\"a\": 1, \"a\": 2}", {"a": 1}, {"a": 2}, "99999999999999999999999"]"#,
        ] {
            check_exact(fine).unwrap();
        }
    }

    #[test]
    fn malformed_tags_are_errors() {
        assert!(from_json(&json!({"$bytes": "0"})).is_err());
        assert!(from_json(&json!({"$ext": -1, "hex": ""})).is_err());
        assert!(from_json(&json!({"$float": "big"})).is_err());
    }
}
