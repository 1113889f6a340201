//! A minimal JSON writer (no dependency): objects, arrays, strings escaped per RFC 8259.

use std::fmt::Write;

/// A JSON value built in memory and written out once.
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(&'static str, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
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

    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Num(f) if f.is_finite() => {
                // Three decimals are plenty for seconds; always a valid JSON number.
                let _ = write!(out, "{:.3}", f);
            }
            Value::Num(_) => out.push_str("null"),
            Value::Str(s) => escape_into(s, out),
            Value::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Value::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    escape_into(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

/// Writes `s` as a JSON string literal: quotes, backslashes and control characters escaped.
pub fn escape_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let v = Value::Obj(vec![
            ("a", Value::str("q\"b\\n\n\u{1}\u{7f}é")),
            (
                "b",
                Value::Arr(vec![Value::Null, Value::Bool(true), Value::Int(-3)]),
            ),
            ("c", Value::Num(0.5)),
            ("d", Value::Num(f64::NAN)),
        ]);
        assert_eq!(
            v.to_json(),
            r#"{"a":"q\"b\\n\n\u0001\u007fé","b":[null,true,-3],"c":0.500,"d":null}"#
        );
    }
}
