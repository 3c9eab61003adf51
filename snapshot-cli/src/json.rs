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
        Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None if f.is_nan() => json!({"$float": "NaN"}),
            None if *f > 0.0 => json!({"$float": "inf"}),
            None => json!({"$float": "-inf"}),
        },
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => json!({"$bytes": hex(b)}),
        Value::List(items) => Json::Array(items.iter().map(|v| to_json(v, registry)).collect()),
        Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.to_owned(), to_json(v, registry)))
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
    fn malformed_tags_are_errors() {
        assert!(from_json(&json!({"$bytes": "0"})).is_err());
        assert!(from_json(&json!({"$ext": -1, "hex": ""})).is_err());
        assert!(from_json(&json!({"$float": "big"})).is_err());
    }
}
