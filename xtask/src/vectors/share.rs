//! Share vectors: links with and without UTM, and every channel's action for
//! a message whose values hold characters that break naive encoders.

use referral_core::{
    referral_url, share_action, Channel, LinkOptions, MessageVars, ShareMessage, Template, Utm,
};
use serde_json::{json, Value};

pub fn cases() -> Result<Value, String> {
    let parse = |s: &str| Template::parse(s).map_err(|e| e.to_string());
    let message = ShareMessage {
        subject: parse("{referrer_name} invited you to {product}")?,
        body: parse("{referrer_name} thinks you'll like {product}. {reward}\nJoin: {link}")?,
    };
    let vars = MessageVars {
        referrer_name: "Zoë \"Z\" O'Neil & Co #1 100% 👋 مرحبا\nCEO".into(),
        product: "Acme+Analytics".into(),
        reward: "You both get 1 month free.".into(),
        link: String::new(),
    };
    let code = "2cN1KEzXb8a7Gfh5Xk1QxM4";
    let plain = LinkOptions::new("https://app.example.com/join");
    let mut with_utm = LinkOptions::new("https://app.example.com/join?lang=de&ref=stale#signup");
    with_utm.param = "via".into();
    with_utm.utm = Some(Utm {
        source: "referral".into(),
        campaign: "spring & summer 2026".into(),
    });
    let mut cases = Vec::new();
    for (options_name, options) in [("plain", &plain), ("utm_custom_param", &with_utm)] {
        for channel in Channel::ALL {
            let link = referral_url(options, code, channel).map_err(|e| e.to_string())?;
            let action = share_action(channel, &link, &message, &vars);
            cases.push(json!({
                "name": format!("{options_name}/{channel}"),
                "link_options": options,
                "code": code,
                "channel": channel,
                "link": link,
                "action": action,
            }));
        }
    }
    let bad = |base: &str| -> Value {
        let error = referral_url(&LinkOptions::new(base), code, Channel::Link)
            .err()
            .map(|e| e.reason());
        json!({ "base_url": base, "error": error })
    };
    let bad_templates: Vec<Value> = ["Hi {name}", "Hi {link", "a } b", "{{ok}} {product"]
        .into_iter()
        .map(|source| {
            json!({
                "template": source,
                "error": Template::parse(source).err().map(|e| e.reason()),
            })
        })
        .collect();
    Ok(json!({
        "message": message,
        "vars": vars,
        "cases": cases,
        "invalid_base_urls": [bad("javascript:alert(1)"), bad("https:///path"), bad("https://a.example/x y")],
        "invalid_templates": bad_templates,
    }))
}
