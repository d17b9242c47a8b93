//! What kind of client a User-Agent names: browser family and operating system (woothee).
//! Versions are ignored on purpose: a browser that updates itself is the same device.

/// Browser family and operating-system family, e.g. `Chrome` on `Windows` (the label keeps
/// the system's version, `Windows 10`; comparisons do not, so an upgrade is the same device).
#[derive(Debug, Clone)]
pub struct Device {
    pub browser: String,
    /// The system's family: the first word of its name (`Windows`, `Mac`, `Android`).
    pub os: String,
    os_name: String,
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        self.browser == other.browser && self.os == other.os
    }
}

impl Eq for Device {}

const UNKNOWN: &str = "UNKNOWN";

/// The family of a woothee OS name: its versions folded together (`Windows 10` and `Windows 7`
/// are `Windows`; `Windows Phone OS` stays apart; `Mac OSX`, `iPhone`, `Android` are
/// themselves).
fn os_family(name: &str) -> &str {
    if name.starts_with("Windows Phone") {
        "Windows Phone"
    } else if name.starts_with("Windows") {
        "Windows"
    } else {
        name
    }
}

impl Device {
    pub fn parse(user_agent: &str) -> Device {
        let parsed = woothee::parser::Parser::new().parse(user_agent);
        let (browser, os) = parsed.map_or((UNKNOWN, UNKNOWN), |result| (result.name, result.os));
        Device {
            browser: browser.to_owned(),
            os: os_family(os).to_owned(),
            os_name: os.to_owned(),
        }
    }

    /// `"Chrome on Windows 10"`.
    pub fn label(&self) -> String {
        format!("{} on {}", self.browser, self.os_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const CHROME_LINUX_NEWER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";
    const FIREFOX_WINDOWS: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

    #[test]
    fn browsers_and_systems_are_told_apart_and_versions_ignored() {
        let chrome = Device::parse(CHROME_LINUX);
        assert_eq!(chrome.browser, "Chrome");
        assert_eq!(chrome.os, "Linux");
        assert_eq!(chrome, Device::parse(CHROME_LINUX_NEWER));
        assert_ne!(chrome, Device::parse(FIREFOX_WINDOWS));
        assert_eq!(Device::parse(SAFARI_IPHONE).os, "iPhone");
        assert_eq!(
            Device::parse(FIREFOX_WINDOWS).label(),
            "Firefox on Windows 10"
        );
        assert_eq!(Device::parse(FIREFOX_WINDOWS).os, "Windows");
        let firefox_windows_7 =
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0";
        assert_eq!(
            Device::parse(FIREFOX_WINDOWS),
            Device::parse(firefox_windows_7)
        );
        assert_eq!(os_family("Windows Phone OS"), "Windows Phone");
        assert_eq!(os_family("Mac OSX"), "Mac OSX");
    }

    #[test]
    fn unparseable_agents_are_one_unknown_device() {
        assert_eq!(Device::parse(""), Device::parse("curl-ish"));
        assert_eq!(Device::parse("").browser, UNKNOWN);
    }
}
