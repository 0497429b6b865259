//! Message templates with `{placeholder}`s, checked when they are loaded.
//!
//! Known placeholders: `{referrer_name}`, `{product}`, `{reward}`, `{link}`.
//! `{{` and `}}` write literal braces. An unknown placeholder or a stray
//! brace is an error at parse time, never silent text at render time.

use core::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    ReferrerName,
    Product,
    Reward,
    Link,
}

impl Placeholder {
    pub const ALL: [Placeholder; 4] = [
        Placeholder::ReferrerName,
        Placeholder::Product,
        Placeholder::Reward,
        Placeholder::Link,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::ReferrerName => "referrer_name",
            Placeholder::Product => "product",
            Placeholder::Reward => "reward",
            Placeholder::Link => "link",
        }
    }

    fn parse(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}} at byte {position}")]
    UnknownPlaceholder { name: String, position: usize },
    #[error("unclosed '{{' at byte {position}")]
    Unclosed { position: usize },
    #[error("stray '}}' at byte {position} (write '}}}}' for a literal brace)")]
    StrayClosingBrace { position: usize },
}

impl TemplateError {
    pub fn reason(&self) -> &'static str {
        match self {
            TemplateError::UnknownPlaceholder { .. } => "unknown_placeholder",
            TemplateError::Unclosed { .. } => "unclosed_placeholder",
            TemplateError::StrayClosingBrace { .. } => "stray_closing_brace",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Text(String),
    Var(Placeholder),
}

/// A parsed template. Serialises as its source text; deserialising parses
/// it, so a config with a bad template fails to load. The default is the
/// empty template.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

/// Values for the placeholders. `link` is filled per channel by the share
/// builder; a missing value renders as empty text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageVars {
    #[serde(default)]
    pub referrer_name: String,
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub reward: String,
    #[serde(default)]
    pub link: String,
}

impl MessageVars {
    fn get(&self, placeholder: Placeholder) -> &str {
        match placeholder {
            Placeholder::ReferrerName => &self.referrer_name,
            Placeholder::Product => &self.product,
            Placeholder::Reward => &self.reward,
            Placeholder::Link => &self.link,
        }
    }
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((position, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, n)| *n) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|(_, n)| *n) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err(TemplateError::StrayClosingBrace { position }),
                '{' => {
                    // Checked slicing: `position + 1` follows an ASCII '{',
                    // so this never fails, and no char-boundary panic path
                    // is linked into the browser module.
                    let rest = source.get(position + 1..).unwrap_or("");
                    let (name, _) = rest
                        .split_once('}')
                        .ok_or(TemplateError::Unclosed { position })?;
                    if name.contains('{') {
                        return Err(TemplateError::Unclosed { position });
                    }
                    let placeholder = Placeholder::parse(name).ok_or_else(|| {
                        TemplateError::UnknownPlaceholder {
                            name: name.to_owned(),
                            position,
                        }
                    })?;
                    if !text.is_empty() {
                        segments.push(Segment::Text(core::mem::take(&mut text)));
                    }
                    segments.push(Segment::Var(placeholder));
                    // Skip the name and the closing brace.
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                other => text.push(other),
            }
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Ok(Template {
            source: source.to_owned(),
            segments,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.segments.contains(&Segment::Var(placeholder))
    }

    /// Substitutes every placeholder. Values are inserted verbatim: no
    /// escaping happens here; each share target encodes for its own syntax.
    pub fn render(&self, vars: &MessageVars) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Var(p) => out.push_str(vars.get(*p)),
            }
        }
        out
    }

    /// Renders without `{link}`, for targets that carry the URL in a field
    /// of its own (X's `url=`, Web Share's `url`), so it is not repeated.
    pub fn render_without_link(&self, vars: &MessageVars) -> String {
        let without = MessageVars {
            link: String::new(),
            ..vars.clone()
        };
        self.render(&without).trim_end().to_owned()
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.source)
    }
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Template::parse(&source).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renders_placeholders_and_escapes() {
        let t = Template::parse("{{Hi}} {referrer_name} invites you to {product}: {link}").unwrap();
        let vars = MessageVars {
            referrer_name: "Anna".into(),
            product: "Acme".into(),
            link: "https://a.example/?ref=X".into(),
            ..Default::default()
        };
        assert_eq!(
            t.render(&vars),
            "{Hi} Anna invites you to Acme: https://a.example/?ref=X"
        );
        assert_eq!(
            t.render_without_link(&vars),
            "{Hi} Anna invites you to Acme:"
        );
    }

    #[test]
    fn rejects_unknown_and_broken_placeholders() {
        assert_eq!(
            Template::parse("Hi {name}").unwrap_err(),
            TemplateError::UnknownPlaceholder {
                name: "name".into(),
                position: 3
            }
        );
        assert_eq!(
            Template::parse("Hi {link").unwrap_err(),
            TemplateError::Unclosed { position: 3 }
        );
        assert_eq!(
            Template::parse("a } b").unwrap_err(),
            TemplateError::StrayClosingBrace { position: 2 }
        );
        assert_eq!(
            Template::parse("{ {link}").unwrap_err(),
            TemplateError::Unclosed { position: 0 }
        );
    }

    #[test]
    fn unicode_in_text_survives() {
        let t = Template::parse("שלום {referrer_name} 👋\n{link}").unwrap();
        let vars = MessageVars {
            referrer_name: "Zoë".into(),
            link: "L".into(),
            ..Default::default()
        };
        assert_eq!(t.render(&vars), "שלום Zoë 👋\nL");
    }

    proptest! {
        #[test]
        fn parse_never_panics(source in "\\PC{0,60}") {
            let _ = Template::parse(&source);
        }

        #[test]
        fn text_without_braces_renders_as_itself(source in "[^{}]{0,60}") {
            let t = Template::parse(&source).unwrap();
            prop_assert_eq!(t.render(&MessageVars::default()), source);
        }
    }
}
