use crate::{FindingKind, scan_with};

fn pii(text: &str) -> Vec<(String, String)> {
    scan_with(text, |m| m.kind == FindingKind::Pii)
        .into_iter()
        .map(|f| (f.label, text[f.start..f.end].to_owned()))
        .collect()
}

/// The values of the findings of one type.
fn of_type(text: &str, label: &str) -> Vec<String> {
    pii(text)
        .into_iter()
        .filter(|(l, _)| l == label)
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn structured_types() {
    let text = "Mail jane.doe@example.org or call +1-202-555-0143. Card 4111 1111 1111 1111, \
                IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, from 203.0.113.7 and 2001:db8::1. \
                Born on 1984-03-07, lives at 1600 Amphitheatre Parkway.";
    insta::assert_json_snapshot!(pii(text), @r#"
    [
      [
        "email",
        "jane.doe@example.org"
      ],
      [
        "phone",
        "+1-202-555-0143"
      ],
      [
        "credit_card",
        "4111 1111 1111 1111"
      ],
      [
        "iban",
        "GB82 WEST 1234 5698 7654 32"
      ],
      [
        "us_ssn",
        "123-45-6789"
      ],
      [
        "ip_address",
        "203.0.113.7"
      ],
      [
        "ip_address",
        "2001:db8::1"
      ],
      [
        "date_of_birth",
        "1984-03-07"
      ],
      [
        "street_address",
        "1600 Amphitheatre Parkway"
      ]
    ]
    "#);
}

#[test]
fn validators_reject_lookalikes() {
    for text in [
        "order 4111 1111 1111 1112 shipped", // fails Luhn
        "IBAN GB82 WEST 1234 5698 7654 33",  // fails mod-97
        "ref 666-12-3456 and 123-00-4567",   // SSN rules
        "version 999.1.2.3 and 256.1.1.1",   // not IPs
        "logo@2x.png",
        "meeting on 2024-05-15 at 10:30", // a date without birth context
    ] {
        assert_eq!(pii(text), Vec::<(String, String)>::new(), "{text}");
    }
}

#[test]
fn ipv6_candidates_come_from_colons() {
    let ips = |t: &str| of_type(t, "ip_address");
    assert_eq!(
        ips("host [fe80::1]:8080 and ::ffff:192.0.2.1."),
        ["fe80::1", "::ffff:192.0.2.1", "192.0.2.1"]
    );
    assert_eq!(
        ips("peer dead:beef::cafe, then 2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        ["dead:beef::cafe", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"]
    );
    for none in [
        "use std::sync::Arc;",
        "at 12:30:45",
        "mac 00:1a:2b:3c:4d:5e",
        "a::b",
        "x::",
    ] {
        assert!(ips(none).is_empty(), "{none}");
    }
}

#[test]
fn iban_starts_only_at_word_starts() {
    let ibans = |t: &str| of_type(t, "iban");
    assert_eq!(
        ibans("DE89370400440532013000 is mine"),
        ["DE89370400440532013000"]
    );
    assert_eq!(
        ibans("pay to: de89 3704 0044 0532 0130 00."),
        ["de89 3704 0044 0532 0130 00"]
    );
    assert!(ibans("x_DE89370400440532013000").is_empty());
    assert!(ibans("ADE89370400440532013000").is_empty());
}

#[test]
fn street_addresses_both_ways_round() {
    let found = |t: &str| of_type(t, "street_address");
    assert_eq!(
        found("12B Baker Street, Apt. 4 is hers"),
        ["12B Baker Street, Apt. 4"]
    );
    assert_eq!(
        found("ship to 350 Fifth Avenue today"),
        ["350 Fifth Avenue"]
    );
    assert_eq!(
        found("vive en Calle Mayor 5 y en Hauptstraße 12."),
        ["Calle Mayor 5", "Hauptstraße 12"]
    );
    assert!(found("x12 Main Street").is_empty());
    assert!(found("1234567 Main Street").is_empty());
    assert!(found("properties 12 and 3 cats").is_empty());
}
