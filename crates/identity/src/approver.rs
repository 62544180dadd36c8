//! Approver accounts: people who log in to the console to approve or deny held calls.
//!
//! Passwords are stored as PBKDF2-HMAC-SHA256 (600,000 iterations, 16-byte random salt),
//! checked in constant time by aws-lc. A wrong name costs the same work as a wrong password,
//! so login timing does not tell which names exist.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::store::{Store, valid_name};
use crate::{Error, Result};

const ITERATIONS: u32 = 600_000;
const SALT: usize = 16;
const HASH: usize = 32;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// An approver, without the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApproverAccount {
    /// Login name.
    pub name: String,
    /// Approver groups (`*`: every group).
    pub groups: Vec<String>,
    /// Unix seconds.
    pub created: i64,
}

fn iterations() -> NonZeroU32 {
    NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

fn derive(salt: &[u8], password: &str) -> [u8; HASH] {
    let mut out = [0u8; HASH];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations(),
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

fn valid_group(group: &str) -> bool {
    group == "*" || valid_name(group)
}

impl Store {
    /// Adds an approver, or replaces the groups and password of an existing one.
    pub fn set_approver(
        &self,
        name: &str,
        groups: &[String],
        password: &str,
        now: i64,
    ) -> Result<ApproverAccount> {
        if !valid_name(name) {
            return Err(Error::Invalid(format!(
                "invalid approver name `{name}`: use 1-64 letters, digits, `_`, `-` or `.`"
            )));
        }
        if groups.is_empty() || !groups.iter().all(|g| valid_group(g)) {
            return Err(Error::Invalid(
                "give at least one group: names of letters, digits, `_`, `-`, `.` (or `*` for all)"
                    .to_owned(),
            ));
        }
        if password.chars().count() < MIN_PASSWORD {
            return Err(Error::Invalid(format!(
                "the password must have at least {MIN_PASSWORD} characters"
            )));
        }
        let salt = crate::crypto::random::<SALT>()?;
        let mut stored = salt.to_vec();
        stored.extend_from_slice(&derive(&salt, password));
        let groups_json =
            serde_json::to_string(groups).map_err(|e| Error::Invalid(e.to_string()))?;
        self.conn()
            .execute(
                "INSERT INTO approvers (name, groups_, password, created) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (name) DO UPDATE SET groups_ = ?2, password = ?3",
                params![name, groups_json, stored, now],
            )
            .map_err(self.err())?;
        Ok(ApproverAccount {
            name: name.to_owned(),
            groups: groups.to_vec(),
            created: now,
        })
    }

    /// Every approver, by name.
    pub fn approvers(&self) -> Result<Vec<ApproverAccount>> {
        self.all(
            "SELECT name, groups_, created FROM approvers ORDER BY name",
            [],
            |r| {
                let groups: String = r.get(1)?;
                Ok(ApproverAccount {
                    name: r.get(0)?,
                    groups: serde_json::from_str(&groups).unwrap_or_default(),
                    created: r.get(2)?,
                })
            },
        )
    }

    /// Removes an approver.
    pub fn remove_approver(&self, name: &str) -> Result<()> {
        let n = self
            .conn()
            .execute("DELETE FROM approvers WHERE name = ?1", params![name])
            .map_err(self.err())?;
        if n == 0 {
            return Err(Error::Invalid(format!("no approver named `{name}`")));
        }
        Ok(())
    }

    /// The approver with this name and password, or `None` (a wrong name and a wrong password
    /// cost the same and look the same).
    pub fn check_approver(&self, name: &str, password: &str) -> Result<Option<ApproverAccount>> {
        let row: Option<(String, Vec<u8>, i64)> = self
            .conn()
            .query_row(
                "SELECT groups_, password, created FROM approvers WHERE name = ?1",
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(self.err())?;
        let Some((groups, stored, created)) = row else {
            let _ = derive(&[0; SALT], password);
            return Ok(None);
        };
        let (salt, hash) = stored.split_at(SALT.min(stored.len()));
        let ok = pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations(),
            salt,
            password.as_bytes(),
            hash,
        )
        .is_ok();
        Ok(ok.then(|| ApproverAccount {
            name: name.to_owned(),
            groups: serde_json::from_str(&groups).unwrap_or_default(),
            created,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MasterKey;

    #[test]
    fn passwords_check_and_names_do_not_leak() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        let store = Store::open(&dir.path().join("state.db"), key, "http://w").unwrap();
        let groups = vec!["finance".to_owned()];
        assert!(store.set_approver("alice", &groups, "short", 1).is_err());
        store
            .set_approver("alice", &groups, "correct horse battery", 1)
            .unwrap();
        let ok = store
            .check_approver("alice", "correct horse battery")
            .unwrap()
            .unwrap();
        assert_eq!(ok.groups, groups);
        assert!(
            store
                .check_approver("alice", "wrong horse battery")
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .check_approver("mallory", "correct horse battery")
                .unwrap()
                .is_none()
        );
        store
            .set_approver("alice", &["ops".to_owned()], "another long secret", 2)
            .unwrap();
        assert!(
            store
                .check_approver("alice", "correct horse battery")
                .unwrap()
                .is_none()
        );
        assert_eq!(store.approvers().unwrap()[0].groups, vec!["ops".to_owned()]);
        store.remove_approver("alice").unwrap();
        assert!(store.approvers().unwrap().is_empty());
    }
}
