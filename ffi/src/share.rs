//! Share links and per-channel share actions.

use referral_core as core_;

use crate::{Channel, ReferralError};

pub type Utm = core_::Utm;
#[uniffi::remote(Record)]
pub struct Utm {
    pub source: String,
    pub campaign: String,
}

pub type LinkOptions = core_::LinkOptions;
#[uniffi::remote(Record)]
pub struct LinkOptions {
    pub base_url: String,
    /// Query parameter for the code; `ref` is the convention.
    pub param: String,
    pub utm: Option<Utm>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct MessageVars {
    pub referrer_name: String,
    pub product: String,
    pub reward: String,
}

/// Core's share action, exposed as it is (a remote enum).
pub type ShareAction = core_::ShareAction;
#[uniffi::remote(Enum)]
pub enum ShareAction {
    Copy {
        text: String,
    },
    Open {
        url: String,
    },
    NativeShare {
        title: String,
        text: String,
        url: String,
    },
}

/// The referral URL for `code` shared through `channel`.
#[uniffi::export]
pub fn referral_url(
    options: LinkOptions,
    code: &str,
    channel: Channel,
) -> Result<String, ReferralError> {
    Ok(core_::referral_url(&options, code, channel)?)
}

/// A pre-written message (subject + body templates), checked when built.
#[derive(Debug, uniffi::Object)]
pub struct ShareMessage {
    inner: core_::ShareMessage,
}

#[uniffi::export]
impl ShareMessage {
    /// Templates may use `{referrer_name}`, `{product}`, `{reward}`, `{link}`;
    /// anything else fails with reason `unknown_placeholder`.
    #[uniffi::constructor]
    pub fn new(subject: &str, body: &str) -> Result<std::sync::Arc<Self>, ReferralError> {
        Ok(std::sync::Arc::new(ShareMessage {
            inner: core_::ShareMessage {
                subject: core_::Template::parse(subject)?,
                body: core_::Template::parse(body)?,
            },
        }))
    }

    /// What the share button for `channel` does with `link`.
    pub fn action(&self, channel: Channel, link: &str, vars: MessageVars) -> ShareAction {
        let vars = core_::MessageVars {
            referrer_name: vars.referrer_name,
            product: vars.product,
            reward: vars.reward,
            link: String::new(),
        };
        core_::share_action(channel, link, &self.inner, &vars)
    }
}
