//! OAuth2 authorization codes and tokens, the keys ID tokens are signed with, and forward-auth
//! sessions. Codes, tokens and session keys are stored as hashes only.

use plexid_core::{ProviderId, Timestamp, UserId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::params;
use crate::row::{Param, Row};

/// An authorization code, waiting to be exchanged once.
#[derive(Clone, Debug, PartialEq)]
pub struct OAuthCode {
    pub code_hash: String,
    pub provider: ProviderId,
    pub user: UserId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub expires: Timestamp,
    pub used: bool,
    /// The plexid session (browser) that authorized it: signing that session out ends it.
    pub session: Option<uuid::Uuid>,
}

/// An access or refresh token. `code_hash` ties it to the code it came from (its family: the
/// tokens refreshed from them keep it), so a replayed code or refresh token can revoke
/// everything that code issued.
#[derive(Clone, Debug, PartialEq)]
pub struct OAuthToken {
    pub token_hash: String,
    /// `access` or `refresh`.
    pub kind: String,
    pub provider: ProviderId,
    pub user: UserId,
    pub code_hash: String,
    pub scope: String,
    pub auth_time: Timestamp,
    pub created: Timestamp,
    pub expires: Timestamp,
    /// A refresh token already exchanged (kept until it expires, so a second use is recognised).
    pub spent: bool,
    /// The plexid session (browser) the grant was born in.
    pub session: Option<uuid::Uuid>,
}

/// A key ID tokens are signed with; the private key is encrypted with plexid's secret key.
#[derive(Clone, Debug, PartialEq)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created: Timestamp,
    /// When a newer key replaced it; it stays published until the tokens it signed expire.
    pub retired: Option<Timestamp>,
}

/// A browser signed in to a forward-auth application.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxySession {
    pub key_hash: String,
    pub provider: ProviderId,
    pub user: UserId,
    pub created: Timestamp,
    pub expires: Timestamp,
    /// The plexid session (browser) it was signed in from.
    pub session: Option<uuid::Uuid>,
}

fn code_from_row(r: &Row) -> StoreResult<OAuthCode> {
    Ok(OAuthCode {
        code_hash: r.text("code_hash")?,
        provider: ProviderId(r.int("provider_id")?),
        user: UserId(r.int("user_id")?),
        redirect_uri: r.text("redirect_uri")?,
        scope: r.text("scope")?,
        nonce: r.opt_text("nonce")?,
        code_challenge: r.opt_text("code_challenge")?,
        auth_time: r.timestamp("auth_time")?,
        expires: r.timestamp("expires")?,
        used: r.boolean("used")?,
        session: r.opt_uuid("session_uuid")?,
    })
}

fn token_from_row(r: &Row) -> StoreResult<OAuthToken> {
    Ok(OAuthToken {
        token_hash: r.text("token_hash")?,
        kind: r.text("kind")?,
        provider: ProviderId(r.int("provider_id")?),
        user: UserId(r.int("user_id")?),
        code_hash: r.text("code_hash")?,
        scope: r.text("scope")?,
        auth_time: r.timestamp("auth_time")?,
        created: r.timestamp("created")?,
        expires: r.timestamp("expires")?,
        spent: r.boolean("spent")?,
        session: r.opt_uuid("session_uuid")?,
    })
}

fn key_from_row(r: &Row) -> StoreResult<SigningKey> {
    Ok(SigningKey {
        kid: r.text("kid")?,
        alg: r.text("alg")?,
        private_key: r.text("private_key")?,
        public_jwk: r.text("public_jwk")?,
        created: r.timestamp("created")?,
        retired: r.opt_timestamp("retired")?,
    })
}

const CODE_COLUMNS: &str =
    "code_hash, provider_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, expires, used, session_uuid";
const TOKEN_COLUMNS: &str =
    "token_hash, kind, provider_id, user_id, code_hash, scope, auth_time, created, expires, spent, session_uuid";

impl<A: Access> Conn<'_, A> {
    pub async fn oauth_token(&mut self, token_hash: &str) -> StoreResult<Option<OAuthToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM oauth_token WHERE token_hash = $1");
        self.fetch_optional(&sql, params![token_hash]).await?.as_ref().map(token_from_row).transpose()
    }

    /// Every signing key, newest first.
    pub async fn signing_keys(&mut self) -> StoreResult<Vec<SigningKey>> {
        let rows = self
            .fetch_all(
                "SELECT kid, alg, private_key, public_jwk, created, retired FROM signing_key ORDER BY created DESC, kid",
                vec![],
            )
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    pub async fn proxy_session(&mut self, key_hash: &str) -> StoreResult<Option<ProxySession>> {
        let row = self
            .fetch_optional(
                "SELECT key_hash, provider_id, user_id, created, expires, session_uuid FROM proxy_session WHERE key_hash = $1",
                params![key_hash],
            )
            .await?;
        row.map(|r| {
            Ok(ProxySession {
                key_hash: r.text("key_hash")?,
                provider: ProviderId(r.int("provider_id")?),
                user: UserId(r.int("user_id")?),
                created: r.timestamp("created")?,
                expires: r.timestamp("expires")?,
                session: r.opt_uuid("session_uuid")?,
            })
        })
        .transpose()
    }
}

impl Conn<'_, ReadWrite> {
    pub async fn insert_oauth_code(&mut self, c: &OAuthCode) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO oauth_code ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
        let values = params![
            &c.code_hash,
            c.provider,
            c.user,
            &c.redirect_uri,
            &c.scope,
            &c.nonce,
            &c.code_challenge,
            c.auth_time,
            c.expires,
            c.used,
            c.session
        ];
        self.execute(&sql, values).await.map(drop)
    }

    /// The code, locked until the transaction ends (two exchanges of one code cannot both win).
    pub async fn oauth_code_for_update(&mut self, code_hash: &str) -> StoreResult<Option<OAuthCode>> {
        let sql = format!("SELECT {CODE_COLUMNS} FROM oauth_code WHERE code_hash = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![code_hash]).await?.as_ref().map(code_from_row).transpose()
    }

    pub async fn mark_oauth_code_used(&mut self, code_hash: &str) -> StoreResult<()> {
        self.execute("UPDATE oauth_code SET used = TRUE WHERE code_hash = $1", params![code_hash]).await.map(drop)
    }

    pub async fn insert_oauth_token(&mut self, t: &OAuthToken) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO oauth_token ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
        let values = params![
            &t.token_hash,
            &t.kind,
            t.provider,
            t.user,
            &t.code_hash,
            &t.scope,
            t.auth_time,
            t.created,
            t.expires,
            t.spent,
            t.session
        ];
        self.execute(&sql, values).await.map(drop)
    }

    pub async fn oauth_token_for_update(&mut self, token_hash: &str) -> StoreResult<Option<OAuthToken>> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM oauth_token WHERE token_hash = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![token_hash]).await?.as_ref().map(token_from_row).transpose()
    }

    /// Marks a refresh token exchanged: it stays, so a second use is recognised as a replay.
    pub async fn mark_oauth_token_spent(&mut self, token_hash: &str) -> StoreResult<()> {
        self.execute("UPDATE oauth_token SET spent = TRUE WHERE token_hash = $1", params![token_hash]).await.map(drop)
    }

    pub async fn delete_oauth_token(&mut self, token_hash: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM oauth_token WHERE token_hash = $1", params![token_hash]).await? > 0)
    }

    /// Revokes every token a code issued (and those refreshed from them): the token family.
    pub async fn delete_oauth_tokens_of_code(&mut self, code_hash: &str) -> StoreResult<u64> {
        self.execute("DELETE FROM oauth_token WHERE code_hash = $1", params![code_hash]).await
    }

    /// Ends the grants born in the plexid sessions `condition` selects (a condition on
    /// `user_session`, with `values` for its placeholders): their codes, OpenID Connect tokens
    /// and forward-auth sessions. Called before those sessions are deleted as a sign-out.
    pub(crate) async fn end_grants_of_sessions(&mut self, condition: &str, values: Vec<Param>) -> StoreResult<u64> {
        let mut ended = 0;
        for table in ["oauth_code", "oauth_token", "proxy_session"] {
            let sql =
                format!("DELETE FROM {table} WHERE session_uuid IN (SELECT uuid FROM user_session WHERE {condition})");
            ended += self.execute(&sql, values.clone()).await?;
        }
        Ok(ended)
    }

    /// Ends a user's tokens and forward-auth sessions at one provider (access lost).
    pub async fn revoke_provider_grants(&mut self, user: UserId, provider: ProviderId) -> StoreResult<u64> {
        let tokens = self
            .execute("DELETE FROM oauth_token WHERE user_id = $1 AND provider_id = $2", params![user, provider])
            .await?;
        let sessions = self
            .execute("DELETE FROM proxy_session WHERE user_id = $1 AND provider_id = $2", params![user, provider])
            .await?;
        Ok(tokens + sessions)
    }

    /// Ends a user's tokens and forward-auth sessions at every provider (signed out everywhere).
    pub async fn revoke_all_grants(&mut self, user: UserId) -> StoreResult<u64> {
        let tokens = self.execute("DELETE FROM oauth_token WHERE user_id = $1", params![user]).await?;
        let sessions = self.execute("DELETE FROM proxy_session WHERE user_id = $1", params![user]).await?;
        Ok(tokens + sessions)
    }

    /// Removes expired codes, tokens and forward-auth sessions.
    pub async fn delete_expired_grants(&mut self, now: Timestamp) -> StoreResult<u64> {
        let mut n = self.execute("DELETE FROM oauth_code WHERE expires <= $1", params![now]).await?;
        n += self.execute("DELETE FROM oauth_token WHERE expires <= $1", params![now]).await?;
        n += self.execute("DELETE FROM proxy_session WHERE expires <= $1", params![now]).await?;
        Ok(n)
    }

    pub async fn insert_signing_key(&mut self, k: &SigningKey) -> StoreResult<()> {
        self.execute(
            "INSERT INTO signing_key (kid, alg, private_key, public_jwk, created, retired) VALUES ($1, $2, $3, $4, $5, $6)",
            params![&k.kid, &k.alg, &k.private_key, &k.public_jwk, k.created, k.retired],
        )
        .await
        .map(drop)
    }

    /// Retires the current keys of `alg` (newer tokens are signed by the key added next).
    pub async fn retire_signing_keys(&mut self, alg: &str, at: Timestamp) -> StoreResult<u64> {
        self.execute("UPDATE signing_key SET retired = $2 WHERE alg = $1 AND retired IS NULL", params![alg, at]).await
    }

    /// Forgets keys retired before `before` (no token they signed is still valid).
    pub async fn delete_retired_signing_keys(&mut self, before: Timestamp) -> StoreResult<u64> {
        self.execute("DELETE FROM signing_key WHERE retired IS NOT NULL AND retired < $1", params![before]).await
    }

    /// Serialises key creation across instances (PostgreSQL); SQLite's writer lock already does.
    pub async fn lock_signing_keys(&mut self) -> StoreResult<()> {
        if self.dialect() == crate::Dialect::Postgres {
            self.execute("LOCK TABLE signing_key IN EXCLUSIVE MODE", vec![]).await?;
        }
        Ok(())
    }

    pub async fn insert_proxy_session(&mut self, s: &ProxySession) -> StoreResult<()> {
        self.execute(
            "INSERT INTO proxy_session (key_hash, provider_id, user_id, created, expires, session_uuid) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            params![&s.key_hash, s.provider, s.user, s.created, s.expires, s.session],
        )
        .await
        .map(drop)
    }

    pub async fn delete_proxy_session(&mut self, key_hash: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM proxy_session WHERE key_hash = $1", params![key_hash]).await? > 0)
    }
}
