//! Reading an uploaded CSV file: UTF-8 with or without a byte-order mark, or GBK (what Excel
//! saves on a Chinese Windows), RFC 4180 quoting (`"a, b"`, `""` for a quote, line breaks inside
//! quotes), `\n` or `\r\n` line ends.

use std::borrow::Cow;

/// A file's text, whatever encoding Excel chose; `None` when it is neither UTF-8 nor GBK.
pub fn decode(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(Cow::Borrowed(text));
    }
    encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes)
}

/// One record: its 1-based line number in the file (where it starts) and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: u64,
    pub fields: Vec<String>,
}

/// Why a file could not be split into records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: u64,
    pub message: String,
}

/// Splits the text into records; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Record>, Malformed> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut quoted = false;
    let mut line: u64 = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let end_record =
        |fields: &mut Vec<String>, field: &mut String, records: &mut Vec<Record>, start: u64| {
            fields.push(std::mem::take(field));
            let blank = fields.len() == 1 && fields[0].trim().is_empty();
            if !blank {
                records.push(Record {
                    line: start,
                    fields: std::mem::take(fields),
                });
            }
            fields.clear();
        };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() && !quoted => {
                field.clear();
                in_quotes = true;
                quoted = true;
            }
            '"' => {
                return Err(Malformed {
                    line,
                    message: "a quote inside an unquoted field".into(),
                })
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                end_record(&mut fields, &mut field, &mut records, start);
                quoted = false;
                line += 1;
                start = line;
            }
            _ if quoted => {
                if !c.is_whitespace() {
                    return Err(Malformed {
                        line,
                        message: "text after a closing quote".into(),
                    });
                }
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(Malformed {
            line: start,
            message: "a quoted field is not closed".into(),
        });
    }
    end_record(&mut fields, &mut field, &mut records, start);
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_line_breaks_and_blank_lines() {
        let r = parse("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\n\"two\nlines\",3\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].fields, ["x, y", "say \"hi\""]);
        assert_eq!((r[2].line, r[2].fields[0].as_str()), (4, "two\nlines"));
    }

    #[test]
    fn unclosed_quotes_are_malformed() {
        assert_eq!(parse("a\n\"b\n").unwrap_err().line, 2);
        assert!(parse("a\"b\n").is_err());
    }

    #[test]
    fn gbk_and_bom_decode() {
        assert_eq!(decode(b"\xEF\xBB\xBFname\n").unwrap(), "name\n");
        let (gbk, _, _) = encoding_rs::GBK.encode("住宅,商铺");
        assert!(std::str::from_utf8(&gbk).is_err());
        assert_eq!(decode(&gbk).unwrap(), "住宅,商铺");
        assert!(decode(b"\xff\xff").is_none());
    }
}
