//! Referral links and per-channel share targets.

use serde::{Deserialize, Serialize};

use crate::code::Channel;
use crate::template::{MessageVars, Template};
use crate::url;

/// How referral links are built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOptions {
    /// Absolute http(s) URL of the landing page, e.g. `https://acme.com/join`.
    pub base_url: String,
    /// Query parameter carrying the code.
    #[serde(default = "default_param")]
    pub param: String,
    /// Adds `utm_source`, `utm_medium=<channel>`, `utm_campaign` when set.
    #[serde(default)]
    pub utm: Option<Utm>,
}

fn default_param() -> String {
    "ref".to_owned()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    /// `utm_source`; `referral` unless set.
    #[serde(default = "default_utm_source")]
    pub source: String,
    /// `utm_campaign`: the program's name.
    pub campaign: String,
}

fn default_utm_source() -> String {
    "referral".to_owned()
}

impl Utm {
    /// `utm_campaign` = `campaign`, `utm_source` the default (`referral`).
    pub fn new(campaign: &str) -> Utm {
        Utm {
            source: default_utm_source(),
            campaign: campaign.to_owned(),
        }
    }
}

impl LinkOptions {
    pub fn new(base_url: &str) -> LinkOptions {
        LinkOptions {
            base_url: base_url.to_owned(),
            param: default_param(),
            utm: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("invalid base URL: {0}")]
    InvalidBaseUrl(&'static str),
    #[error("invalid link parameter name")]
    InvalidParam,
}

impl ShareError {
    pub fn reason(&self) -> &'static str {
        match self {
            ShareError::InvalidBaseUrl(_) => "invalid_base_url",
            ShareError::InvalidParam => "invalid_param",
        }
    }
}

/// The referral URL for `code`, shared through `channel`.
pub fn referral_url(
    options: &LinkOptions,
    code: &str,
    channel: Channel,
) -> Result<String, ShareError> {
    url::check_base_url(&options.base_url).map_err(ShareError::InvalidBaseUrl)?;
    if options.param.is_empty() || options.param.len() > 64 {
        return Err(ShareError::InvalidParam);
    }
    let mut params: Vec<(&str, &str)> = vec![(options.param.as_str(), code)];
    if let Some(utm) = &options.utm {
        params.push(("utm_source", utm.source.as_str()));
        params.push(("utm_medium", channel.as_str()));
        params.push(("utm_campaign", utm.campaign.as_str()));
    }
    Ok(url::set_query_params(&options.base_url, &params))
}

/// The pre-written message: an email subject and a body used by every
/// channel; both may use `{referrer_name}`, `{product}`, `{reward}`, `{link}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareMessage {
    pub subject: Template,
    pub body: Template,
}

impl ShareMessage {
    /// English defaults a host can start from.
    pub fn default_english() -> ShareMessage {
        let parse =
            |s: &str| Template::parse(s).unwrap_or_else(|_| unreachable!("built-in template"));
        ShareMessage {
            subject: parse("{referrer_name} invited you to {product}"),
            body: parse("I've been using {product} and think you'd like it. {reward} Sign up with my link: {link}"),
        }
    }
}

/// What a share button does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShareAction {
    /// Put `text` on the clipboard (the link channel) or draw it (QR).
    Copy { text: String },
    /// Open `url` (a `mailto:`, `sms:` or https share intent).
    Open { url: String },
    /// Call `navigator.share({title, text, url})` or the native share sheet.
    NativeShare {
        title: String,
        text: String,
        url: String,
    },
}

/// Builds the share action for one channel. `link` is the referral URL for a
/// code minted for that channel; `vars.link` is ignored and set to it.
pub fn share_action(
    channel: Channel,
    link: &str,
    message: &ShareMessage,
    vars: &MessageVars,
) -> ShareAction {
    let vars = MessageVars {
        link: link.to_owned(),
        ..vars.clone()
    };
    // Single-text targets need the link in the text even when the template
    // forgot it; targets with a url field get the text without it.
    let full_text = || {
        let text = message.body.render(&vars);
        if message.body.uses(crate::template::Placeholder::Link) {
            text
        } else {
            format!("{} {}", text.trim_end(), link)
        }
    };
    let short_text = || message.body.render_without_link(&vars);
    match channel {
        Channel::Link | Channel::Qr => ShareAction::Copy {
            text: link.to_owned(),
        },
        Channel::Email => {
            // RFC 6068: line breaks in a body are CRLF, percent-encoded.
            let body = normalise_crlf(&full_text());
            ShareAction::Open {
                url: format!(
                    "mailto:?subject={}&body={}",
                    url::encode_component(&message.subject.render(&vars)),
                    url::encode_component(&body)
                ),
            }
        }
        Channel::LinkedIn => ShareAction::Open {
            url: format!(
                "https://www.linkedin.com/sharing/share-offsite/?url={}",
                url::encode_component(link)
            ),
        },
        Channel::X => ShareAction::Open {
            url: format!(
                "https://x.com/intent/post?text={}&url={}",
                url::encode_component(&short_text()),
                url::encode_component(link)
            ),
        },
        Channel::WhatsApp => ShareAction::Open {
            url: format!(
                "https://wa.me/?text={}",
                url::encode_component(&full_text())
            ),
        },
        // `sms:?&body=` is the form both iOS and Android accept.
        Channel::Sms => ShareAction::Open {
            url: format!("sms:?&body={}", url::encode_component(&full_text())),
        },
        Channel::NativeShare => ShareAction::NativeShare {
            title: message.subject.render(&vars),
            text: short_text(),
            url: link.to_owned(),
        },
    }
}

/// Every line break (`\r\n`, `\r` or `\n`) as `\r\n`. One pass over chars
/// (no substring search: smaller in the browser module).
fn normalise_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\r\n");
            }
            '\n' => out.push_str("\r\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> ShareMessage {
        ShareMessage {
            subject: Template::parse("{referrer_name} invited you to {product}").unwrap(),
            body: Template::parse(
                "Hi! {referrer_name} says: try {product}. {reward}\nJoin: {link}",
            )
            .unwrap(),
        }
    }

    const NASTY_NAME: &str = "Zoë & \"Bob\" #1 100% 'O'Brien' 👋 مرحبا\nsecond line";

    fn vars() -> MessageVars {
        MessageVars {
            referrer_name: NASTY_NAME.into(),
            product: "Acme+Co".into(),
            reward: "You both get 1 month free & more".into(),
            link: String::new(),
        }
    }

    fn param_of(url: &str, name: &str) -> String {
        crate::url::query_param(
            url.trim_start_matches("mailto:").trim_start_matches("sms:"),
            name,
        )
        .unwrap_or_else(|| panic!("{name} missing in {url}"))
    }

    #[test]
    fn builds_links_with_utm() {
        let mut options = LinkOptions::new("https://acme.example/join?lang=en#signup");
        options.utm = Some(Utm {
            source: "referral".into(),
            campaign: "spring & summer".into(),
        });
        let url = referral_url(&options, "Abc123", Channel::Email).unwrap();
        assert_eq!(
            url,
            "https://acme.example/join?lang=en&ref=Abc123&utm_source=referral&utm_medium=email&utm_campaign=spring%20%26%20summer#signup"
        );
        assert_eq!(
            referral_url(&LinkOptions::new("ftp://x"), "A", Channel::Link),
            Err(ShareError::InvalidBaseUrl(
                "must start with https:// or http://"
            ))
        );
    }

    #[test]
    fn hostile_names_survive_into_every_target() {
        let link = "https://acme.example/join?ref=Abc123";
        let message = message();
        let expected_full = message.body.render(&MessageVars {
            link: link.into(),
            ..vars()
        });
        assert!(expected_full.contains(NASTY_NAME));
        for channel in Channel::ALL {
            match share_action(channel, link, &message, &vars()) {
                ShareAction::Copy { text } => assert_eq!(text, link),
                ShareAction::NativeShare { title, text, url } => {
                    assert!(title.contains(NASTY_NAME));
                    assert!(text.contains(NASTY_NAME));
                    assert_eq!(url, link);
                }
                ShareAction::Open { url } => {
                    // The whole target is one token: nothing a name holds can
                    // break out into another parameter or the fragment.
                    assert!(
                        !url.contains(' ') && !url.contains('\n') && !url.contains('#'),
                        "{url}"
                    );
                    match channel {
                        Channel::Email => {
                            assert_eq!(param_of(&url, "body"), expected_full.replace('\n', "\r\n"));
                            assert_eq!(
                                param_of(&url, "subject"),
                                format!("{NASTY_NAME} invited you to Acme+Co")
                            );
                        }
                        Channel::WhatsApp | Channel::Sms => {
                            let name = if channel == Channel::Sms {
                                "body"
                            } else {
                                "text"
                            };
                            assert_eq!(param_of(&url, name), expected_full);
                        }
                        Channel::X => {
                            assert!(param_of(&url, "text").contains(NASTY_NAME));
                            assert_eq!(param_of(&url, "url"), link);
                        }
                        Channel::LinkedIn => assert_eq!(param_of(&url, "url"), link),
                        _ => unreachable!(),
                    }
                }
            }
        }
    }

    #[test]
    fn link_is_appended_when_the_template_forgets_it() {
        let message = ShareMessage {
            subject: Template::parse("Hi").unwrap(),
            body: Template::parse("Try {product}").unwrap(),
        };
        let action = share_action(
            Channel::WhatsApp,
            "https://a.example/?ref=C",
            &message,
            &vars(),
        );
        let ShareAction::Open { url } = action else {
            panic!()
        };
        assert_eq!(
            param_of(&url, "text"),
            "Try Acme+Co https://a.example/?ref=C"
        );
    }
}
