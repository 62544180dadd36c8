use hyper::http::Request;

use super::*;

fn secret(name: &str, value: &str, hosts: &[&str]) -> Secret {
    Secret::new(name, value.to_owned(), Rules::parse(hosts).unwrap()).unwrap()
}

fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[test]
fn placeholders_in_the_target_and_headers_become_values() {
    let s = vec![Arc::new(secret("TOKEN", "s3cr3t", &["api.test"]))];
    let mut p = parts(
        "/v1/items?key=warden-secret-TOKEN&x=1",
        &[
            ("authorization", "Bearer warden-secret-TOKEN"),
            ("x-plain", "nothing here"),
        ],
    );
    let used = inject(&mut p, &s).unwrap();
    assert_eq!(used, vec!["TOKEN"]);
    assert_eq!(p.uri.to_string(), "/v1/items?key=s3cr3t&x=1");
    assert_eq!(p.headers["authorization"], "Bearer s3cr3t");
    assert!(p.headers["authorization"].is_sensitive());
    assert_eq!(p.headers["x-plain"], "nothing here");
}

#[test]
fn basic_credentials_are_decoded_rewritten_and_encoded_again() {
    let s = vec![Arc::new(secret("PASS", "hunter2", &["api.test"]))];
    let encoded = base64::engine::general_purpose::STANDARD.encode("me:warden-secret-PASS");
    let mut p = parts("/", &[("authorization", &format!("Basic {encoded}"))]);
    assert_eq!(inject(&mut p, &s).unwrap(), vec!["PASS"]);
    let expected = base64::engine::general_purpose::STANDARD.encode("me:hunter2");
    assert_eq!(
        p.headers["authorization"],
        format!("Basic {expected}").as_str()
    );
}

#[test]
fn the_longest_name_wins_and_unknown_placeholders_stay() {
    let secrets = Secrets::new(vec![
        secret("A", "short", &["api.test"]),
        secret("A_B", "long", &["api.test"]),
    ]);
    let chosen = secrets.for_destination("api.test", 443);
    let mut p = parts(
        "/",
        &[(
            "x",
            "warden-secret-A_B warden-secret-A warden-secret-OTHER warden-secret-",
        )],
    );
    assert_eq!(inject(&mut p, &chosen).unwrap(), vec!["A", "A_B"]);
    assert_eq!(
        p.headers["x"],
        "long short warden-secret-OTHER warden-secret-"
    );
}

#[test]
fn a_secret_goes_only_to_its_own_hosts() {
    let secrets = Secrets::new(vec![
        secret("GH", "g", &["api.github.test"]),
        secret("ANY", "w", &["*.example.test:8443"]),
    ]);
    let names = |host, port| -> Vec<String> {
        secrets
            .for_destination(host, port)
            .iter()
            .map(|s| s.name().to_owned())
            .collect()
    };
    assert_eq!(names("api.github.test", 443), vec!["GH"]);
    assert_eq!(names("API.GitHub.test.", 443), vec!["GH"]);
    assert!(names("api.github.test", 8443).is_empty());
    assert!(names("github.test", 443).is_empty());
    assert_eq!(names("a.example.test", 8443), vec!["ANY"]);
    assert!(names("example.test", 8443).is_empty());
}

#[test]
fn bad_secrets_are_refused_with_reasons() {
    let hosts = || Rules::parse(&["api.test"]).unwrap();
    let err = |name: &str, value: &str, hosts: Rules| {
        Secret::new(name, value.to_owned(), hosts)
            .unwrap_err()
            .to_string()
    };
    assert!(err("9X", "v", hosts()).contains("letters, digits"));
    assert!(err("A-B", "v", hosts()).contains("letters, digits"));
    assert!(err("", "v", hosts()).contains("letters, digits"));
    assert!(err("X", "v", Rules::parse::<&str>(&[]).unwrap()).contains("no host"));
    assert!(err("X", "", hosts()).contains("control character"));
    assert!(err("X", "a\r\nInjected: 1", hosts()).contains("control character"));
    // A trailing newline (a value read from a file) is not part of the secret.
    let s = Secret::new("X", "topsecretvalue\n".to_owned(), hosts()).unwrap();
    assert_eq!(s.placeholder(), "warden-secret-X");
    assert!(!format!("{s:?}").contains("topsecretvalue"));
    let s = vec![Arc::new(s)];
    let mut p = parts("/", &[("authorization", "warden-secret-X")]);
    inject(&mut p, &s).unwrap();
    assert_eq!(p.headers["authorization"], "topsecretvalue");
}

#[test]
fn a_value_that_cannot_stand_in_the_target_is_an_error() {
    let s = vec![Arc::new(secret("T", "has space", &["api.test"]))];
    let mut p = parts("/?k=warden-secret-T", &[]);
    assert!(inject(&mut p, &s).is_err());
}
