use serde_json::json;

use super::*;

fn rules() -> Rules {
    Rules::parse(&["example.com", "127.0.0.1:8080"]).unwrap()
}

#[test]
fn allowed_urls_pass_wherever_they_are() {
    let args = json!({
        "url": "https://example.com/a?b=c",
        "notes": ["see http://127.0.0.1:8080/x and HTTP://EXAMPLE.COM/"],
        "count": 3,
    });
    assert_eq!(first_refusal(&rules(), &args), None);
}

#[test]
fn the_first_refused_url_is_named_with_its_place() {
    let args = json!({
        "url": "https://example.com/",
        "body": {"links": ["text before http://169.254.169.254/latest/meta-data and after"]},
    });
    let (pointer, url, refusal) = first_refusal(&rules(), &args).unwrap();
    assert_eq!(pointer, "/body/links/0");
    assert_eq!(url, "http://169.254.169.254/latest/meta-data");
    assert_eq!(
        refusal,
        Refusal::NotAllowed {
            host: "169.254.169.254".to_owned(),
            port: 80
        }
    );
    // A port the entry does not name, and a look-alike host.
    for (u, host, port) in [
        ("http://example.com:8443/", "example.com", 8443),
        ("https://example.com.evil.net/", "example.com.evil.net", 443),
        ("http://127.0.0.1:8081/", "127.0.0.1", 8081),
    ] {
        let (_, _, r) = first_refusal(&rules(), &json!({ "u": u })).unwrap();
        assert_eq!(
            r,
            Refusal::NotAllowed {
                host: host.to_owned(),
                port
            },
            "{u}"
        );
    }
}

#[test]
fn keys_with_slashes_are_escaped_in_the_pointer() {
    let args = json!({"a/b~c": "wss://evil.net/socket"});
    let (pointer, _, _) = first_refusal(&rules(), &args).unwrap();
    assert_eq!(pointer, "/a~1b~0c");
}

#[test]
fn slashless_and_backslashed_urls_and_keys_are_found_but_not_words_ending_in_a_scheme() {
    for args in [
        json!({"u": "http:\\\\evil.net\\x"}),
        json!({"u": "see http:/evil.net/x"}),
        json!({"u": "http:evil.net"}),
        json!({"http://evil.net/": 1}),
    ] {
        let (_, _, r) = first_refusal(&rules(), &args).unwrap_or_else(|| panic!("{args}"));
        assert_eq!(
            r,
            Refusal::NotAllowed {
                host: "evil.net".to_owned(),
                port: 80
            },
            "{args}"
        );
    }
    assert_eq!(
        first_refusal(&rules(), &json!({"t": "the news:today and views:many"})),
        None
    );
}
