//! JSON text as Python's `json.dumps` writes it (authentik's mapping test result): `", "` and
//! `": "` separators (or 4-space indentation), non-ASCII escaped as `\uXXXX`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

struct PythonCompact;

impl Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        write_ascii(writer, fragment)
    }
}

struct PythonIndented<'a>(PrettyFormatter<'a>);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(fn $name<W: ?Sized + Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.0.$name(writer $(, $arg)*)
        })*
    };
}

impl Formatter for PythonIndented<'_> {
    delegate!(
        begin_array(), end_array(), begin_array_value(first: bool), end_array_value(),
        begin_object(), end_object(), begin_object_key(first: bool), begin_object_value(), end_object_value(),
    );
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        write_ascii(writer, fragment)
    }
}

fn write_ascii<W: ?Sized + Write>(writer: &mut W, fragment: &str) -> io::Result<()> {
    for c in fragment.chars() {
        if c.is_ascii() {
            writer.write_all(&[c as u8])?;
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
        }
    }
    Ok(())
}

/// `json.dumps(value)` or, with `indent`, `json.dumps(value, indent=4)`.
pub fn dumps<T: Serialize>(value: &T, indent: bool) -> String {
    let mut out = Vec::new();
    let result = if indent {
        value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            PythonIndented(PrettyFormatter::with_indent(b"    ")),
        ))
    } else {
        value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, PythonCompact))
    };
    match result {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => {
            let mut plain = Vec::new();
            let _ = value.serialize(&mut serde_json::Serializer::with_formatter(&mut plain, CompactFormatter));
            String::from_utf8(plain).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dumps;
    use serde_json::json;

    #[test]
    fn matches_python() {
        let v = json!({"attributes": {"avatar": "x", "l": [1, 2]}, "é": null});
        assert_eq!(dumps(&v, false), r#"{"attributes": {"avatar": "x", "l": [1, 2]}, "\u00e9": null}"#);
        assert_eq!(
            dumps(&v, true),
            "{\n    \"attributes\": {\n        \"avatar\": \"x\",\n        \"l\": [\n            1,\n            2\n        ]\n    },\n    \"\\u00e9\": null\n}"
        );
        assert_eq!(dumps(&json!("😀"), false), r#""\ud83d\ude00""#);
        assert_eq!(dumps(&json!([]), true), "[]");
    }
}
