use crate::{FindingKind, scan_with};

fn secrets(text: &str) -> Vec<(String, String)> {
    scan_with(text, |m| m.kind == FindingKind::Secret)
        .into_iter()
        .map(|f| (f.label, text[f.start..f.end].to_owned()))
        .collect()
}

#[test]
fn provider_keys() {
    let gh = format!("ghp_{}", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5");
    let text = format!("export GITHUB_TOKEN={gh}\nkey AKIAIOSFODNN7QXAMPLZ");
    insta::assert_json_snapshot!(secrets(&text), @r#"
    [
      [
        "github_token",
        "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
      ],
      [
        "secret_assignment",
        "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
      ],
      [
        "aws_access_key_id",
        "AKIAIOSFODNN7QXAMPLZ"
      ]
    ]
    "#);
}

#[test]
fn placeholders_and_code_are_not_secrets() {
    for text in [
        "password = get_password()",
        "token: str = None",
        "api_key = os.environ['API_KEY']",
        "password: ${DB_PASSWORD}",
        "secret = \"xxxxxxxxxxxxxxxx\"",
        "postgres://user:password@localhost/db",
        "sha256 = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "id: 123e4567-e89b-12d3-a456-426614174000",
        "the tokenizer_path = models/tokenizer.json",
        "errors: pass 'strict' to raise a ValueError, or pass 'ignore' to ignore them",
        "echo 'export DATABASE_PASSWORD=\"'$CI_DATABASE_PASSWORD'\"' >> .env",
        "REACT_APP_CLIENT_SECRET=$REACT_APP_BASE_URL/login/",
    ] {
        assert_eq!(secrets(text), Vec::<(String, String)>::new(), "{text}");
    }
    // The same word after an assignment sign, or a password-shaped value, still counts.
    assert_eq!(secrets("password = 'sunshine'").len(), 1);
    assert_eq!(secrets("pass 'Hunter2!x'").len(), 1);
}

#[test]
fn private_key_and_jwt_and_connection_string() {
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
    let found = secrets(pem);
    assert_eq!(found, vec![("private_key".to_owned(), pem.to_owned())]);
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(
        secrets(&format!("Bearer {jwt}"))[0],
        ("jwt".to_owned(), jwt.to_owned())
    );
    let found = secrets("DATABASE_URL=postgres://app:Zx9!kq2Lm@db.internal:5432/app");
    assert!(
        found.contains(&("connection_password".to_owned(), "Zx9!kq2Lm".to_owned())),
        "{found:?}"
    );
}

#[test]
fn secret_hidden_in_base64_maps_to_the_encoded_run() {
    let key = format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc");
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("my stripe key is {key} ok"),
    );
    let text = format!("payload: {b64}");
    let found = secrets(&text);
    assert!(
        found.contains(&("stripe_key".to_owned(), b64.clone())),
        "{found:?}"
    );
}

#[test]
fn every_rule_compiles() {
    for rule in super::rules::RULES {
        let p = rule.pattern.replace(r"\b", r"(?-u:\b)");
        assert!(
            regex::Regex::new(&p).is_ok(),
            "{}: {:?}",
            rule.label,
            regex::Regex::new(&p).err()
        );
    }
}

#[test]
fn key_shaped_runs_inside_longer_tokens_are_not_keys() {
    // A TrueNAS-shaped run (digits, '-', 64 letters) joined by '-' or '_' to the rest of a
    // random base64url string, as a pagination cursor can hold by chance.
    let run = "QmFzZTY0dXJsUmFuZG9tQnl0ZXNGb3JBQ3Vyc29yVGhhdE5ldmVyRW5kc0hlcmVPSw";
    let key = format!("1234-{}", &run[..64]);
    for text in [
        format!("{{\"next_cursor\": \"AH8ZsFsv-3EXMokp2rA936Fw-{key}_x9\"}}"),
        format!("cursor AbC_{key}"),
        format!("cursor {key}-Zz"),
    ] {
        assert_eq!(secrets(&text), Vec::<(String, String)>::new(), "{text}");
    }
    // Set off by blanks, quotes or '=', the same key counts.
    for text in [format!("truenas {key}"), format!("key=\"{key}\"")] {
        assert!(
            secrets(&text)
                .iter()
                .any(|(label, _)| label == "truenas_key"),
            "{text}"
        );
    }
}
