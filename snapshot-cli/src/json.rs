//! Converting snapshot values to and from JSON.
//!
//! JSON has no byte strings, no extension values and no NaN or infinities, so those are
//! written as small tagged objects that `put` reads back:
//! `{"$bytes": "<hex>"}`, `{"$ext": <type id>, "hex": "<payload hex>", "type": ..., "value": ...}`
//! (the last two for information, when the type is known) and `{"$float": "NaN"}`
//! (or `"inf"`, `"-inf"`). A tag is always an object's first key.
//!
//! Keys that start with `$` are reserved for tags, so ordinary data never collides with
//! them: a map key that starts with `$` is written with one more `$` (`"$price"` as
//! `"$$price"`), and read back without it. An object whose first key is a single-`$`
//! key other than the three tags, or that has a single-`$` key after its first, is
//! refused with its position.

use serde_json::{Map as JsonMap, Number, Value as Json, json};
use snapshot_state::{Ext, Map, Registry, Value};

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
                .map(|(k, v)| (escape_key(k.to_string()), to_json(v, registry)))
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

/// A map key as written in JSON: one more `$` in front of a key that starts with `$`.
fn escape_key(key: String) -> String {
    if key.starts_with('$') {
        format!("${key}")
    } else {
        key
    }
}

/// A JSON document as a snapshot value, read straight from its text (no intermediate
/// JSON tree: the memory is the value's).
///
/// # Errors
/// serde_json's message, with line and column, for invalid JSON and malformed tags.
pub fn from_json_slice(text: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let value =
        serde::de::DeserializeSeed::deserialize(FromJson, &mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Builds a [`Value`] from any JSON deserializer.
#[derive(Clone, Copy)]
struct FromJson;

impl<'de> serde::de::DeserializeSeed<'de> for FromJson {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FromJson {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::Error as _;
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Value::Map(Map::new()));
        };
        if is_tag(&first) {
            return tagged(&first, map);
        }
        let mut out = Map::new();
        let mut key = first;
        loop {
            let value = map.next_value_seed(self)?;
            out.insert(unescape(key), value);
            match map.next_key::<String>()? {
                None => return Ok(Value::Map(out)),
                Some(next) if is_tag(&next) => {
                    return Err(A::Error::custom(format!(
                        "key {next:?} starts with a single $, which is reserved for tags ($bytes, $float, $ext) as an object's first key; write ${next} for a key that starts with $"
                    )));
                }
                Some(next) => key = next,
            }
        }
    }
}

/// Whether a JSON key is a tag's (one `$`, not the `$$` of an escaped key).
fn is_tag(key: &str) -> bool {
    key.starts_with('$') && !key.starts_with("$$")
}

/// A map key as stored: one `$` less in front of an escaped key.
fn unescape(key: String) -> String {
    match key.strip_prefix('$') {
        Some(rest) if rest.starts_with('$') => rest.to_owned(),
        _ => key,
    }
}

/// The value of a tagged object whose first key, `tag`, has been read.
fn tagged<'de, A: serde::de::MapAccess<'de>>(tag: &str, mut map: A) -> Result<Value, A::Error> {
    use serde::de::Error as _;
    let value = match tag {
        "$bytes" => {
            let h: String = map.next_value()?;
            Value::Bytes(unhex(&h).map_err(A::Error::custom)?)
        }
        "$float" => {
            let f: String = map.next_value()?;
            Value::Float(match f.as_str() {
                "NaN" => f64::NAN,
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                other => return Err(A::Error::custom(format!("unknown $float {other:?}"))),
            })
        }
        "$ext" => {
            let id: u64 = map
                .next_value()
                .map_err(|_| A::Error::custom("$ext must be a non-negative integer"))?;
            let mut payload = None;
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "hex" => payload = Some(map.next_value::<String>()?),
                    // Shown for information; the payload is what is stored.
                    "type" | "value" | "invalid" => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                    other => {
                        return Err(A::Error::custom(format!(
                            "unexpected key {other:?} in an $ext object (it holds hex, and type, value or invalid for information)"
                        )));
                    }
                }
            }
            let payload =
                payload.ok_or_else(|| A::Error::custom("$ext needs a \"hex\" payload"))?;
            return Ok(Value::from(Ext::new(
                id,
                unhex(&payload).map_err(A::Error::custom)?,
            )));
        }
        other => {
            return Err(A::Error::custom(format!(
                "unknown tag {other:?}: keys that start with a single $ are reserved for $bytes, $float and $ext; write ${other} for a key that starts with $"
            )));
        }
    };
    if let Some(extra) = map.next_key::<String>()? {
        return Err(A::Error::custom(format!(
            "a {tag} object has one key, found {extra:?} too"
        )));
    }
    Ok(value)
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
    use snapshot_state::value;

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
        let text = serde_json::to_vec(&json).unwrap();
        assert_eq!(from_json_slice(&text).unwrap(), v);
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
        for bad in [
            r#"{"$bytes": "0"}"#,
            r#"{"$ext": -1, "hex": ""}"#,
            r#"{"$float": "big"}"#,
            r#"{"$bytes": "00", "more": 1}"#,
            r#"{"$price": 1}"#,
            r#"{"a": 1, "$float": "NaN"}"#,
        ] {
            assert!(from_json_slice(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    /// Ordinary data whose keys look like tags keeps its type through show and put.
    #[test]
    fn keys_that_look_like_tags_are_ordinary_data() {
        let v = value!({
            "$float": "NaN",
            "$bytes": "00ff",
            "$ext": {"hex": "01"},
            "$$already": 1,
            "nested": [{"$float": 2.5}],
        });
        let json = to_json(&v, &Registry::new());
        assert_eq!(json["$$float"], json!("NaN"));
        assert_eq!(json["$$$already"], json!(1));
        let text = serde_json::to_vec(&json).unwrap();
        assert_eq!(from_json_slice(&text).unwrap(), v);
    }
}
