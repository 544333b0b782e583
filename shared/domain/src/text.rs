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
    pub(crate) fn from_serde_message(message: &str) -> Option<Self> {
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
}
