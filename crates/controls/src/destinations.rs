//! Where a call sends things: the hosts of URLs (`scheme://host`) and the e-mail addresses in a
//! text, lowercased, for the new-destination signal.

/// Most destinations taken from one call.
pub const MAX_DESTINATIONS: usize = 16;

/// Adds the URL hosts and e-mail addresses in `text` to `out` (without duplicates, at most
/// [`MAX_DESTINATIONS`] in all).
pub fn destinations(text: &str, out: &mut Vec<String>) {
    let bytes = text.as_bytes();
    // Ends of URL authorities already taken, so `user@host` inside a URL is not also an
    // address.
    let mut skip_to = 0;
    for at in memchr::memchr2_iter(b':', b'@', bytes) {
        if out.len() >= MAX_DESTINATIONS {
            return;
        }
        if at < skip_to {
            continue;
        }
        let found = if bytes.get(at) == Some(&b':') {
            url_host(bytes, at).map(|(host, end)| {
                skip_to = end;
                host
            })
        } else {
            email(bytes, at)
        };
        if let Some(d) = found
            && !out.contains(&d)
        {
            out.push(d);
        }
    }
}

/// The host of `scheme://authority` where `colon` is the scheme's `:`, and where the authority
/// ends.
fn url_host(bytes: &[u8], colon: usize) -> Option<(String, usize)> {
    if bytes.get(colon + 1..colon + 3) != Some(b"//") {
        return None;
    }
    let scheme_start = bytes
        .get(..colon)?
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        .map_or(0, |p| p + 1);
    let scheme = bytes.get(scheme_start..colon)?;
    if scheme.is_empty() || !scheme.first()?.is_ascii_alphabetic() {
        return None;
    }
    let start = colon + 3;
    let end = bytes
        .get(start..)?
        .iter()
        .position(|b| {
            matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\')
                || b.is_ascii_whitespace()
        })
        .map_or(bytes.len(), |p| start + p);
    let authority = bytes.get(start..end)?;
    let host_start = authority
        .iter()
        .rposition(|b| *b == b'@')
        .map_or(0, |p| p + 1);
    let host = authority.get(host_start..)?;
    // Without the port (an IPv6 literal keeps its brackets).
    let host = if host.first() == Some(&b'[') {
        let close = host.iter().position(|b| *b == b']')?;
        host.get(..=close)?
    } else {
        let colon = host.iter().position(|b| *b == b':').unwrap_or(host.len());
        host.get(..colon)?
    };
    let host = std::str::from_utf8(host).ok()?.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    Some((host.to_lowercase(), end))
}

/// The address around the `@` at `at`, if it is one (`local@domain.tld`).
fn email(bytes: &[u8], at: usize) -> Option<String> {
    let local_ok =
        |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-');
    let start = bytes
        .get(..at)?
        .iter()
        .rposition(|b| !local_ok(b))
        .map_or(0, |p| p + 1);
    let domain_ok = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-');
    let end = bytes
        .get(at + 1..)?
        .iter()
        .position(|b| !domain_ok(b))
        .map_or(bytes.len(), |p| at + 1 + p);
    let local = bytes.get(start..at)?;
    let domain = std::str::from_utf8(bytes.get(at + 1..end)?)
        .ok()?
        .trim_end_matches(['.', '-']);
    let dot = domain.rfind('.')?;
    let tld = domain.get(dot + 1..)?;
    if local.is_empty()
        || dot == 0
        || tld.len() < 2
        || !tld.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    let local = std::str::from_utf8(local).ok()?.trim_start_matches('.');
    if local.is_empty() {
        return None;
    }
    Some(format!("{local}@{domain}").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        destinations(text, &mut out);
        out
    }

    #[test]
    fn hosts_and_addresses() {
        assert_eq!(
            all(
                "send it to Mark.Black-2024@Gmail.com and post to https://User:pw@Files.Example.org:8443/x?y=1"
            ),
            ["mark.black-2024@gmail.com", "files.example.org"]
        );
        assert_eq!(
            all("see http://[::1]:8080/ and ftp://host."),
            ["[::1]", "host"]
        );
        assert_eq!(all("a@b.co, a@b.co; A@B.CO"), ["a@b.co"]);
    }

    #[test]
    fn not_destinations() {
        assert!(all("@mention user@localhost x@1.2 12:30 C:\\dir ://x 1http://x").is_empty());
        assert!(all("https:///path").is_empty());
    }

    #[test]
    fn capped() {
        let text: String = (0..100).map(|i| format!("u{i}@example.com ")).collect();
        assert_eq!(all(&text).len(), MAX_DESTINATIONS);
    }
}
