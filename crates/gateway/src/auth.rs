//! Bearer tokens at the door: Warden's own (see `warden-identity`) or an external identity
//! provider's, checked against its JWKS. Refusals become `401`/`403` with the
//! `WWW-Authenticate` challenge the MCP authorization spec asks for, pointing at the
//! protected resource metadata.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use warden_identity::{External, Refusal, Scope, Store, Verified};

/// Least time between two JWKS fetches for an unknown key id.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// An external identity provider and its cached keys.
#[derive(Debug)]
pub struct ExternalIssuer {
    config: External,
    jwks_url: String,
    fetched: Mutex<Option<Instant>>,
    keys: Mutex<jsonwebtoken::jwk::JwkSet>,
}

impl ExternalIssuer {
    /// A provider whose keys are fetched from `jwks_url`.
    pub fn new(
        issuer: String,
        audience: String,
        agent_claim: String,
        default_scopes: Vec<Scope>,
        jwks_url: String,
    ) -> Self {
        Self {
            config: External {
                issuer,
                audience,
                agent_claim,
                default_scopes,
                keys: jsonwebtoken::jwk::JwkSet { keys: Vec::new() },
            },
            jwks_url,
            fetched: Mutex::new(None),
            keys: Mutex::new(jsonwebtoken::jwk::JwkSet { keys: Vec::new() }),
        }
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.config.issuer
    }

    async fn refresh(&self, http: &reqwest::Client) -> Result<(), Refusal> {
        {
            let mut fetched = self.fetched.lock().map_err(|_| Refusal::BadSignature)?;
            if fetched.is_some_and(|t| t.elapsed() < REFETCH_AFTER) {
                return Ok(());
            }
            *fetched = Some(Instant::now());
        }
        let set = async {
            let response = http
                .get(&self.jwks_url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .ok()?;
            let bytes = response.error_for_status().ok()?.bytes().await.ok()?;
            serde_json::from_slice::<jsonwebtoken::jwk::JwkSet>(&bytes).ok()
        }
        .await;
        match set {
            Some(set) => {
                if let Ok(mut keys) = self.keys.lock() {
                    *keys = set;
                }
                Ok(())
            }
            None => {
                tracing::warn!(issuer = %self.config.issuer, url = %self.jwks_url, "cannot fetch the provider's JWKS");
                Ok(())
            }
        }
    }

    pub(crate) async fn verify(
        &self,
        http: &reqwest::Client,
        store: &Store,
        token: &str,
        now: i64,
    ) -> Result<Verified, Refusal> {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        let known = |keys: &jsonwebtoken::jwk::JwkSet| match &kid {
            Some(k) => keys.find(k).is_some(),
            None => !keys.keys.is_empty(),
        };
        let have = self.keys.lock().map(|k| known(&k)).unwrap_or(false);
        if !have {
            self.refresh(http).await?;
        }
        let mut config = self.config.clone();
        config.keys = self.keys.lock().map_err(|_| Refusal::BadSignature)?.clone();
        config.verify(store, token, now)
    }
}

/// The `iss` claim of a token, read without verifying (only to pick the verifier).
pub(crate) fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// The answer to a refused token.
pub(crate) fn refusal_response(refusal: &Refusal, metadata_url: &str) -> Response {
    let (status, error) = match refusal {
        Refusal::Missing => (StatusCode::UNAUTHORIZED, None),
        Refusal::InsufficientScope(_) => (StatusCode::FORBIDDEN, Some("insufficient_scope")),
        Refusal::Suspended(_) => (StatusCode::FORBIDDEN, Some("invalid_token")),
        _ => (StatusCode::UNAUTHORIZED, Some("invalid_token")),
    };
    let description = refusal.to_string().replace('"', "'");
    let mut challenge = format!("Bearer resource_metadata=\"{metadata_url}\"");
    if let Some(e) = error {
        challenge.push_str(&format!(
            ", error=\"{e}\", error_description=\"{description}\""
        ));
    }
    if let Refusal::InsufficientScope(scope) = refusal {
        challenge.push_str(&format!(", scope=\"{scope}\""));
    }
    let body = json!({
        "error": error.unwrap_or("unauthorized"),
        "error_description": description,
    });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}
