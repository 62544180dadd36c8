//! Short-lived signed tokens (EdDSA JWTs), delegation by token exchange, and verification.
//!
//! Claims: `iss`, `sub` (the agent whose authority the token carries), `aud`, `iat`, `nbf`,
//! `exp`, `jti`, `scope` (space-separated, see [`crate::scope`]), `uid` (the agent's creation
//! id) and, for delegated tokens, `act` as in RFC 8693 section 4.1: the current actor, with
//! earlier actors nested inside.
//!
//! A token is accepted only if its signature verifies with a key of this store, its audience
//! and issuer match, it is within its lifetime, its `jti` is in the registry and neither it nor
//! any token it was exchanged from is revoked, and its agent exists with the same `uid` and is
//! active.

use std::sync::Arc;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::scope::{self, Scope};
use crate::store::{Agent, Status, TokenRecord};
use crate::{Error, Refusal, Result, Store};

/// Longest lifetime of an issued token.
pub const MAX_TTL_SECS: i64 = 24 * 3600;
/// Tokens whose verified claims are remembered (the memo is emptied when full).
const CHECKED_TOKENS: usize = 10_000;
/// Most delegation hops.
pub const MAX_DEPTH: usize = 8;

/// An RFC 8693 `act` claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// The actor's name.
    pub sub: String,
    /// The actor before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

/// The claims of a Warden token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
}

/// A token and what it says.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The compact JWT.
    pub token: String,
    /// Its claims.
    pub claims: Claims,
}

/// What an accepted token establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The agent (its current registry entry).
    pub agent: Agent,
    /// Token id (`jti`), or `None` for an external identity provider's token without one.
    pub jti: Option<String>,
    /// Scopes the token grants.
    pub scopes: Vec<Scope>,
    /// The delegation chain: the agent first, then each actor it was delegated to.
    pub chain: Vec<String>,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// Who issued it.
    pub issuer: String,
}

impl Verified {
    /// The one acting now: the last actor of the chain.
    pub fn actor(&self) -> &str {
        self.chain
            .last()
            .map_or(self.agent.id.as_str(), String::as_str)
    }
}

/// A new Ed25519 key: (key id, PKCS#8 private key, raw public key).
pub(crate) fn generate_key() -> Result<(String, Vec<u8>, Vec<u8>)> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|_| Error::Crypto("cannot generate a signing key".to_owned()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| Error::Crypto("cannot read the generated signing key".to_owned()))?;
    let public = pair.public_key().as_ref().to_vec();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &public);
    let kid = hex::encode(digest.as_ref().get(..8).unwrap_or_default());
    Ok((kid, pkcs8.as_ref().to_vec(), public))
}

fn new_jti() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(crate::crypto::random::<16>()?))
}

impl Store {
    fn sign(&self, claims: &Claims) -> Result<String> {
        let key = self.signing_key()?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        header.typ = Some("at+jwt".to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&key.pkcs8))
            .map_err(|e| Error::Crypto(format!("cannot sign the token: {e}")))
    }

    /// Issues a token for an active agent.
    pub fn issue(
        &self,
        agent: &str,
        ttl_secs: i64,
        scopes: &[Scope],
        audience: &str,
        now: i64,
    ) -> Result<Issued> {
        check_ttl(ttl_secs)?;
        if scopes.is_empty() {
            return Err(Error::Invalid(
                "a token needs at least one scope".to_owned(),
            ));
        }
        let agent = self
            .agent(agent)?
            .ok_or_else(|| Error::UnknownAgent(agent.to_owned()))?;
        if agent.status == Status::Suspended {
            return Err(Error::Invalid(format!(
                "agent `{}` is suspended: resume it before issuing tokens",
                agent.id
            )));
        }
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: agent.id.clone(),
            aud: audience.to_owned(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
            jti: new_jti()?,
            scope: scope::join(scopes),
            uid: agent.uid.clone(),
            act: None,
        };
        let token = self.sign(&claims)?;
        self.insert_token(&TokenRecord {
            jti: claims.jti.clone(),
            agent: agent.id,
            agent_uid: claims.uid.clone(),
            parent: None,
            actors: Vec::new(),
            scopes: claims.scope.clone(),
            audience: claims.aud.clone(),
            issued: now,
            expires: claims.exp,
            revoked: None,
        })?;
        Ok(Issued { token, claims })
    }

    /// RFC 8693 token exchange: a narrower token for `actor` (a sub-agent) from a valid
    /// `subject` token. Scopes can only shrink (default: the subject's), the lifetime can only
    /// shrink (default and cap: what the subject has left), and the chain is recorded.
    pub fn exchange(
        &self,
        subject: &str,
        actor: &str,
        scopes: Option<&[Scope]>,
        ttl_secs: Option<i64>,
        now: i64,
    ) -> Result<Issued> {
        if !crate::valid_name(actor) {
            return Err(Error::Invalid(format!(
                "invalid actor name `{actor}`: use 1-64 letters, digits, `_`, `-` or `.`"
            )));
        }
        let parent_claims = self.check(subject, None, now)?;
        let parent = self.verified(&parent_claims, now)?;
        if parent.chain.len() > MAX_DEPTH {
            return Err(Error::Invalid(format!(
                "delegation is limited to {MAX_DEPTH} hops"
            )));
        }
        let scopes = match scopes {
            Some([]) => {
                return Err(Error::Invalid(
                    "a token needs at least one scope".to_owned(),
                ));
            }
            Some(s) if !scope::narrower(&parent.scopes, s) => {
                return Err(Error::Invalid(format!(
                    "requested scope `{}` is wider than the subject token's `{}`",
                    scope::join(s),
                    parent_claims.scope
                )));
            }
            Some(s) => s.to_vec(),
            None => parent.scopes.clone(),
        };
        let left = parent_claims.exp - now;
        let ttl = match ttl_secs {
            Some(t) if t > left => {
                return Err(Error::Invalid(format!(
                    "requested lifetime of {t} s outlives the subject token ({left} s left)"
                )));
            }
            Some(t) => t,
            None => left,
        };
        check_ttl(ttl)?;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: parent_claims.sub.clone(),
            aud: parent_claims.aud.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl,
            jti: new_jti()?,
            scope: scope::join(&scopes),
            uid: parent_claims.uid.clone(),
            act: Some(Actor {
                sub: actor.to_owned(),
                act: parent_claims.act.clone().map(Box::new),
            }),
        };
        let token = self.sign(&claims)?;
        let mut actors: Vec<String> = parent.chain.iter().skip(1).cloned().collect();
        actors.push(actor.to_owned());
        self.insert_token(&TokenRecord {
            jti: claims.jti.clone(),
            agent: claims.sub.clone(),
            agent_uid: claims.uid.clone(),
            parent: Some(parent_claims.jti.clone()),
            actors,
            scopes: claims.scope.clone(),
            audience: claims.aud.clone(),
            issued: now,
            expires: claims.exp,
            revoked: None,
        })?;
        Ok(Issued { token, claims })
    }

    /// Verifies a token presented for `audience`.
    pub fn verify(&self, token: &str, audience: &str, now: i64) -> Result<Verified, Refusal> {
        self.refresh()
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        let cached = self.cache().checked.get(token).cloned();
        let claims = match cached {
            Some(c) if c.aud == audience && c.exp > now && c.nbf <= now => c,
            Some(c) if c.exp <= now => return Err(Refusal::Expired),
            _ => {
                let c = self.check(token, Some(audience), now).map_err(refusal)?;
                let mut cache = self.cache();
                if cache.checked.len() >= CHECKED_TOKENS {
                    cache.checked.clear();
                }
                cache.checked.insert(token.to_owned(), c.clone());
                c
            }
        };
        self.verified(&claims, now).map_err(refusal)
    }

    /// Signature, issuer, audience (when given) and lifetime.
    fn check(&self, token: &str, audience: Option<&str>, now: i64) -> Result<Claims> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(
                Refusal::Malformed(format!("algorithm {:?} is not accepted", header.alg)).into(),
            );
        }
        let kid = header.kid.ok_or(Refusal::BadSignature)?;
        let key = self.decoding_key(&kid)?.ok_or(Refusal::BadSignature)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss", "sub", "jti"]);
        validation.set_issuer(&[self.issuer.as_str()]);
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        // jsonwebtoken reads the clock itself; `now` decides the rest (and the tests).
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey => Refusal::BadSignature,
            ErrorKind::ExpiredSignature => Refusal::Expired,
            ErrorKind::ImmatureSignature => Refusal::NotYetValid,
            ErrorKind::InvalidAudience => {
                Refusal::WrongAudience(audience.unwrap_or_default().to_owned())
            }
            ErrorKind::InvalidIssuer => Refusal::UnknownIssuer(String::new()),
            _ => Refusal::Malformed(e.to_string()),
        })?;
        let claims = data.claims;
        if claims.exp <= now {
            return Err(Refusal::Expired.into());
        }
        if claims.nbf > now || claims.iat > now + 5 {
            return Err(Refusal::NotYetValid.into());
        }
        Ok(claims)
    }

    /// Registry checks: the token, its ancestors, its agent.
    fn verified(&self, claims: &Claims, now: i64) -> Result<Verified> {
        let record = self
            .token(&claims.jti)?
            .ok_or_else(|| Refusal::UnknownToken(claims.jti.clone()))?;
        if record.agent != claims.sub
            || record.agent_uid != claims.uid
            || record.expires != claims.exp
        {
            return Err(Refusal::UnknownToken(claims.jti.clone()).into());
        }
        let mut current = Some(record.clone());
        let mut hops = 0;
        while let Some(r) = current {
            if r.revoked.is_some_and(|t| t <= now) {
                return Err(Refusal::Revoked(r.jti).into());
            }
            hops += 1;
            if hops > MAX_DEPTH + 1 {
                return Err(Refusal::UnknownToken(claims.jti.clone()).into());
            }
            current = match &r.parent {
                Some(p) => Some(
                    self.token(p)?
                        .ok_or_else(|| Refusal::UnknownToken(p.clone()))?,
                ),
                None => None,
            };
        }
        let agent = self
            .agent(&claims.sub)?
            .filter(|a| a.uid == claims.uid)
            .ok_or_else(|| Refusal::UnknownAgent(claims.sub.clone()))?;
        if agent.status == Status::Suspended {
            return Err(Refusal::Suspended(agent.id).into());
        }
        let scopes =
            Scope::parse_list(&claims.scope).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let mut chain = vec![agent.id.clone()];
        chain.extend(record.actors.iter().cloned());
        Ok(Verified {
            agent,
            jti: Some(claims.jti.clone()),
            scopes,
            chain,
            expires: claims.exp,
            issuer: claims.iss.clone(),
        })
    }

    fn decoding_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        if let Some(key) = self.cache().verify_keys.get(kid) {
            return Ok(Some(key.clone()));
        }
        for (id, public) in self.public_keys()? {
            let key = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&public))
                .map_err(|e| Error::Crypto(e.to_string()))?;
            self.cache().verify_keys.insert(id, Arc::new(key));
        }
        Ok(self.cache().verify_keys.get(kid).cloned())
    }

    /// The public keys as a JWK Set, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Result<Value> {
        // Make sure a key exists so the set is never empty once the gateway runs.
        self.signing_key()?;
        let keys: Vec<Value> = self
            .public_keys()?
            .into_iter()
            .map(|(kid, public)| {
                json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                       "kid": kid, "x": URL_SAFE_NO_PAD.encode(public)})
            })
            .collect();
        Ok(json!({ "keys": keys }))
    }
}

fn check_ttl(ttl: i64) -> Result<()> {
    if ttl <= 0 || ttl > MAX_TTL_SECS {
        return Err(Error::Invalid(format!(
            "token lifetime must be between 1 s and {} h",
            MAX_TTL_SECS / 3600
        )));
    }
    Ok(())
}

fn refusal(e: Error) -> Refusal {
    match e {
        Error::Refused(r) => r,
        other => Refusal::Malformed(other.to_string()),
    }
}

/// Parses a lifetime such as `90s`, `15m`, `2h` or `1d` (a bare number is seconds).
pub fn parse_ttl(text: &str) -> Result<i64> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = digits.parse().map_err(|_| {
        Error::Invalid(format!("invalid lifetime `{text}`: use 90s, 15m, 2h or 1d"))
    })?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(Error::Invalid(format!(
                "invalid lifetime `{text}`: use 90s, 15m, 2h or 1d"
            )));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| Error::Invalid(format!("lifetime `{text}` is too long")))
}

/// An external identity provider Warden trusts, with its current keys.
#[derive(Debug, Clone)]
pub struct External {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// Claim naming the agent (`sub`, `client_id`, `azp`, ...).
    pub agent_claim: String,
    /// Scopes given when the token has no `scope`/`scp` claim.
    pub default_scopes: Vec<Scope>,
    /// The provider's JWK Set.
    pub keys: jsonwebtoken::jwk::JwkSet,
}

impl External {
    /// Verifies a provider's token and maps it to a registered agent (suspension and removal
    /// apply as for Warden's own tokens).
    pub fn verify(&self, store: &Store, token: &str, now: i64) -> Result<Verified, Refusal> {
        store
            .refresh()
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let jwk = match &header.kid {
            Some(kid) => self.keys.find(kid),
            None if self.keys.keys.len() == 1 => self.keys.keys.first(),
            None => None,
        }
        .ok_or(Refusal::BadSignature)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| Refusal::BadSignature)?;
        let mut validation = Validation::new(header.alg);
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(Refusal::Malformed(
                "symmetric algorithms are not accepted".to_owned(),
            ));
        }
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&[self.audience.as_str()]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Refusal::BadSignature,
                ErrorKind::ExpiredSignature => Refusal::Expired,
                ErrorKind::ImmatureSignature => Refusal::NotYetValid,
                ErrorKind::InvalidAudience => Refusal::WrongAudience(self.audience.clone()),
                ErrorKind::InvalidIssuer => Refusal::UnknownIssuer(self.issuer.clone()),
                _ => Refusal::Malformed(e.to_string()),
            })?;
        let claims = data.claims;
        let name = claims
            .get(&self.agent_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::Malformed(format!("no `{}` claim", self.agent_claim)))?;
        let agent = store
            .agent(name)
            .map_err(|e| Refusal::Malformed(e.to_string()))?
            .ok_or_else(|| Refusal::UnknownAgent(name.to_owned()))?;
        if agent.status == Status::Suspended {
            return Err(Refusal::Suspended(agent.id));
        }
        let scope_text = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(s)), _) => Some(s.clone()),
            (_, Some(Value::Array(list))) => Some(
                list.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        };
        // Provider scopes Warden does not know (openid, profile, ...) are ignored.
        let scopes = match scope_text {
            Some(text) => text
                .split(' ')
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
            None => self.default_scopes.clone(),
        };
        let expires = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        Ok(Verified {
            chain: vec![agent.id.clone()],
            agent,
            jti: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
            scopes,
            expires,
            issuer: self.issuer.clone(),
        })
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
