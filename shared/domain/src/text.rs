//! Bilingual text: everything the service tells a person exists in Chinese and in English.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A message in Chinese (shown first to applicants and agency staff) and in English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bilingual {
    /// 中文
    pub zh: String,
    /// English
    pub en: String,
}

impl Bilingual {
    /// Builds a message from its two languages.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// This message followed by `next` (Chinese joined directly, English after a space).
    pub fn then(&self, next: &Bilingual) -> Self {
        Self {
            zh: format!("{}{}", self.zh, next.zh),
            en: format!("{} {}", self.en, next.en),
        }
    }
}

/// The longest free text an agency may send in each language (a reason shown to the parent).
pub const AGENCY_TEXT_MAX: usize = 500;

impl Bilingual {
    /// Whether an agency's message can be shown to a parent: both languages given, each at most
    /// [`AGENCY_TEXT_MAX`] characters, no control characters.
    pub fn check_agency_text(&self) -> Result<(), Invalid> {
        for text in [&self.zh, &self.en] {
            let n = text.trim().chars().count();
            if n == 0 || n > AGENCY_TEXT_MAX {
                return Err(Invalid::new(
                    "text_length",
                    format!("说明的中英文各须为1至{AGENCY_TEXT_MAX}个字"),
                    format!("a message has 1 to {AGENCY_TEXT_MAX} characters in each language"),
                ));
            }
            if text.chars().any(|c| c.is_control() && c != '\n') {
                return Err(Invalid::new(
                    "invisible_character",
                    "说明中含有控制字符",
                    "the message contains control characters",
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Bilingual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.zh, self.en)
    }
}

/// A rejected value: a stable machine-readable code plus a bilingual explanation.
///
/// Stable codes let clients and the HTTP edge (RFC 9457 problem+json) react without parsing text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Invalid {
    /// Stable code, snake_case, e.g. `id_number_check_digit`.
    pub code: String,
    /// What is wrong, in both languages.
    pub message: Bilingual,
}

impl Invalid {
    /// Builds an error from a code and its two messages.
    pub fn new(code: &str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: Bilingual::new(zh, en),
        }
    }

    /// Encodes the error for transport through serde's string-only custom errors.
    pub(crate) fn to_serde_message(&self) -> String {
        format!(
            "{SERDE_MARK}{}\u{1f}{}\u{1f}{}",
            self.code, self.message.zh, self.message.en
        )
    }

    /// Decodes what [`Invalid::to_serde_message`] encoded, if the message is one of ours.
    pub fn from_serde_message(message: &str) -> Option<Self> {
        let rest = message.strip_prefix(SERDE_MARK)?;
        // serde_json appends " at line L column C"; our unit separator keeps the parts apart.
        let mut parts = rest.splitn(3, '\u{1f}');
        let code = parts.next()?;
        let zh = parts.next()?;
        let en = parts.next()?;
        let en = en.split(" at line ").next().unwrap_or(en);
        Some(Self::new(code, zh, en))
    }
}

const SERDE_MARK: &str = "\u{1e}invalid\u{1e}";

/// A parser's message without the submitted values it quotes (serde writes `invalid type: string
/// "350102…", expected u16` and `unknown variant `…``): an ID number typed into the wrong field
/// must not come back in the error. The field and the rule stay; each quoted value becomes `…`.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let quote = rest.find('"');
        let variant = ["unknown variant `", "unknown field `"]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i + m.len() - 1, '`')))
            .min();
        let next = match (quote.map(|i| (i, '"')), variant) {
            (Some(q), Some(v)) => Some(q.min(v)),
            (q, v) => q.or(v),
        };
        let Some((at, mark)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..=at]);
        let after = &rest[at + 1..];
        match after.find(mark) {
            Some(end) => {
                out.push('…');
                out.push(mark);
                rest = &after[end + 1..];
            }
            None => {
                out.push('…');
                return out;
            }
        }
    }
}

/// Implements `Deserialize` via `FromStr` for a validated newtype, carrying our bilingual error.
macro_rules! parse_via_str {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse::<$t>()
                    .map_err(|e: Invalid| serde::de::Error::custom(e.to_serde_message()))
            }
        }
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use parse_via_str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_survives_the_trip_through_serde_messages() {
        let e = Invalid::new("x_y", "错误", "wrong");
        let text = format!("{} at line 1 column 5", e.to_serde_message());
        assert_eq!(Invalid::from_serde_message(&text), Some(e));
        assert_eq!(Invalid::from_serde_message("missing field `a`"), None);
    }

    #[test]
    fn parser_messages_lose_the_values_they_quote() {
        assert_eq!(
            without_values(
                r#"invalid type: string "35010219940315002X", expected u16 at line 1 column 30"#
            ),
            r#"invalid type: string "…", expected u16 at line 1 column 30"#
        );
        assert_eq!(
            without_values("unknown variant `35010219940315002X`, expected `male` or `female`"),
            "unknown variant `…`, expected `male` or `female`"
        );
        assert_eq!(
            without_values("missing field `father`"),
            "missing field `father`",
            "a field name is not a value"
        );
        assert_eq!(without_values(r#"bad "open"#), r#"bad "…"#);
    }
}
