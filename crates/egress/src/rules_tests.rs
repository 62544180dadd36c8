use super::*;

fn rules(entries: &[&str]) -> Rules {
    Rules::parse(entries).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn entries_parse_and_print_back() {
    for e in [
        "example.com",
        "*.example.com",
        "api.example.com:8443",
        "example.com:*",
        "10.0.0.0/8",
        "127.0.0.1:9000",
        "::1",
        "[::1]:9000",
    ] {
        let parsed: Entry = e.parse().unwrap();
        let printed = parsed.to_string();
        let again: Entry = printed.parse().unwrap();
        assert_eq!(again, parsed, "{e} -> {printed}");
    }
    assert_eq!(
        "Example.COM.".parse::<Entry>().unwrap().to_string(),
        "example.com"
    );
    for bad in [
        "",
        ":80",
        "example.com:http",
        "exa mple.com",
        "[::1",
        "example.com:70000",
        "g*..",
        "a..b",
        "*.",
        "ex*ample.com",
    ] {
        assert!(bad.parse::<Entry>().is_err(), "{bad}");
    }
}

#[test]
fn names_need_an_entry_and_a_port() {
    let r = rules(&["example.com", "*.github.com:443", "pypi.org:*"]);
    assert_eq!(r.allows_name("example.com", 443), Ok(()));
    assert_eq!(r.allows_name("EXAMPLE.com.", 80), Ok(()));
    assert!(r.allows_name("example.com", 22).is_err());
    assert!(
        r.allows_name("www.example.com", 443).is_err(),
        "no wildcard given"
    );
    assert_eq!(r.allows_name("api.github.com", 443), Ok(()));
    assert!(
        r.allows_name("github.com", 443).is_err(),
        "`*.` is below only"
    );
    assert!(r.allows_name("evilgithub.com", 443).is_err());
    assert!(r.allows_name("api.github.com", 80).is_err());
    assert_eq!(r.allows_name("pypi.org", 8080), Ok(()));
    assert_eq!(
        r.allows_name("evil.com", 443),
        Err(Refusal::NotAllowed {
            host: "evil.com".to_owned(),
            port: 443
        })
    );
}

#[test]
fn unicode_names_compare_as_punycode() {
    // A Cyrillic "а" is not the Latin one.
    let r = rules(&["apple.com"]);
    assert!(r.allows_name("аpple.com", 443).is_err());
    let r = rules(&["bücher.example"]);
    assert_eq!(r.allows_name("xn--bcher-kva.example", 443), Ok(()));
}

#[test]
fn special_addresses_need_an_entry_naming_them() {
    let r = rules(&["example.com", "127.0.0.1:9000", "10.1.0.0/16:*"]);
    // A public address for an allowed name is fine.
    assert_eq!(
        r.allows_addr("example.com", ip("93.184.216.34"), 443),
        Ok(())
    );
    // DNS rebinding: an allowed name answering with a special address.
    for (addr, class) in [
        ("127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fd00:ec2::254", "private (unique local)"),
        ("100.100.100.200", "shared (carrier-grade NAT)"),
        ("0.0.0.0", "unspecified"),
    ] {
        assert_eq!(
            r.allows_addr("example.com", ip(addr), 443),
            Err(Refusal::Blocked {
                host: "example.com".to_owned(),
                addr: ip(addr),
                class
            }),
            "{addr}"
        );
    }
    // Named by an entry, on its port.
    assert_eq!(r.allows_addr("127.0.0.1", ip("127.0.0.1"), 9000), Ok(()));
    assert!(r.allows_addr("127.0.0.1", ip("127.0.0.1"), 9001).is_err());
    assert_eq!(r.allows_addr("db.internal", ip("10.1.2.3"), 5432), Ok(()));
    assert!(r.allows_addr("db.internal", ip("10.2.0.1"), 5432).is_err());
    // IP literals are names too.
    assert_eq!(r.allows_name("127.0.0.1", 9000), Ok(()));
    assert!(r.allows_name("169.254.169.254", 80).is_err());
    assert!(r.allows_name("93.184.216.34", 443).is_err(), "not listed");
}

#[test]
fn a_broad_ipv6_entry_does_not_reach_mapped_ipv4_special_addresses() {
    let r = rules(&["[::/0]:*"]);
    assert!(
        r.allows_addr("x", ip("::ffff:169.254.169.254"), 80)
            .is_err()
    );
    assert!(r.allows_addr("x", ip("::ffff:127.0.0.1"), 80).is_err());
    assert_eq!(r.allows_addr("x", ip("2001:db8::1"), 80), Ok(()));
}

#[test]
fn refusals_explain_themselves() {
    let r = rules(&["example.com"]);
    assert_eq!(
        r.allows_addr("example.com", ip("169.254.169.254"), 80)
            .unwrap_err()
            .to_string(),
        "`example.com` resolves to 169.254.169.254, a link-local (cloud metadata) address, which only an entry naming it may reach"
    );
    assert_eq!(
        r.allows_name("evil.com", 443).unwrap_err().to_string(),
        "`evil.com:443` is not on the egress allow-list"
    );
}
