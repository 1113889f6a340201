//! JSON output, written by serde_json. `Value` is how `status` builds its objects; a path is
//! given as bytes (`Value::path`) so that a non-UTF-8 path can be given back exactly.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use serde_json::{Map, Number};

/// A JSON value built in memory and written out once.
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    /// Seconds: written with at most three decimals (milliseconds).
    Num(f64),
    Str(String),
    /// A path: in an object, field `K` is the path as text; when it is not valid UTF-8, each
    /// invalid byte is shown as U+FFFD in `K` and field `K_hex` holds the exact bytes in hex.
    Path(Vec<u8>),
    Arr(Vec<Value>),
    Obj(Vec<(&'static str, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn path(p: &OsStr) -> Value {
        Value::Path(p.as_bytes().to_vec())
    }

    pub fn opt_str(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Null, |s| Value::Str(s.into()))
    }

    pub fn opt_int(v: Option<impl Into<i128>>) -> Value {
        v.map_or(Value::Null, |v| Value::Int(v.into()))
    }

    pub fn opt_num(v: Option<f64>) -> Value {
        v.map_or(Value::Null, Value::Num)
    }

    fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => i64::try_from(*i)
                .map(J::from)
                .or_else(|_| u64::try_from(*i).map(J::from))
                .unwrap_or(J::Null),
            Value::Num(f) => {
                Number::from_f64((f * 1000.0).round() / 1000.0).map_or(J::Null, J::Number)
            }
            Value::Str(s) => J::String(s.clone()),
            Value::Path(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Value::Arr(items) => J::Array(items.iter().map(Value::to_serde).collect()),
            Value::Obj(fields) => {
                let mut m = Map::new();
                for (k, v) in fields {
                    m.insert(k.to_string(), v.to_serde());
                    if let Value::Path(b) = v {
                        if std::str::from_utf8(b).is_err() {
                            m.insert(format!("{k}_hex"), J::String(hex(b)));
                        }
                    }
                }
                J::Object(m)
            }
        }
    }

    pub fn to_json(&self) -> String {
        self.to_serde().to_string()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn escapes_and_keeps_field_order() {
        let v = Value::Obj(vec![
            ("a", Value::str("q\"b\\n\n\u{1}\u{7f}é")),
            (
                "b",
                Value::Arr(vec![Value::Null, Value::Bool(true), Value::Int(-3)]),
            ),
            ("c", Value::Num(0.5)),
            ("d", Value::Num(f64::NAN)),
            ("e", Value::Num(12.0044)),
        ]);
        assert_eq!(
            v.to_json(),
            "{\"a\":\"q\\\"b\\\\n\\n\\u0001\u{7f}é\",\"b\":[null,true,-3],\"c\":0.5,\"d\":null,\"e\":12.004}"
        );
    }

    #[test]
    fn a_non_utf8_path_has_its_bytes_in_hex() {
        let p = OsStr::from_bytes(b"/tmp/\xff\xfeq.lock");
        let v = Value::Obj(vec![
            ("path", Value::path(p)),
            ("ok", Value::path(OsStr::new("/a"))),
        ]);
        assert_eq!(
            v.to_json(),
            "{\"path\":\"/tmp/\u{fffd}\u{fffd}q.lock\",\"path_hex\":\"2f746d702ffffe712e6c6f636b\",\"ok\":\"/a\"}"
        );
    }
}
