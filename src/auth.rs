//! Bearer tokens: random 256-bit secrets, stored only as SHA-256 hashes
//! (they are not passwords, so a slow hash would only cost latency).

use crate::db::models::{Agent, ApiToken, Queue};
use crate::db::schema::{agents, api_tokens, queues, vendors};
use crate::db::{write_statement, write_tx, Conn, DbConnection, WriteConn};
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

const TOKEN_PREFIX: &str = "rly_";

/// Who is calling, resolved from a token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: String,
    pub role: Role,
    pub agent_id: Option<String>,
    pub vendor_id: Option<String>,
}

impl Principal {
    /// The vendor whose work this caller is confined to, if any.
    pub fn vendor_scope(&self) -> Option<&str> {
        if self.role.is_vendor_scoped() {
            // Vendor-scoped tokens are only issued to agents with a vendor;
            // an empty scope can never match a queue, so nothing leaks if that
            // invariant is ever broken.
            Some(self.vendor_id.as_deref().unwrap_or(""))
        } else {
            None
        }
    }

    pub fn require(&self, allowed: impl Fn(Role) -> bool) -> AppResult<()> {
        if allowed(self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "the {} role may not do this",
                self.role
            )))
        }
    }

    /// How this caller appears in a ticket's event log.
    pub fn actor(&self) -> String {
        match &self.agent_id {
            Some(id) => format!("agent:{id}"),
            None => format!("token:{}", self.token_id),
        }
    }
}

/// A fresh secret: a recognisable prefix (so secret scanners can find leaked
/// tokens) and 256 random bits.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn refused() -> AppError {
    AppError::Unauthorized("the bearer token is not valid or was revoked".into())
}

/// What the token's query reads: the token, the agent it acts for, and
/// their open tickets.
type TokenRow = (ApiToken, Option<Agent>, Option<i32>);

macro_rules! token_query {
    ($secret:expr) => {
        api_tokens::table
            .left_join(agents::table)
            .filter(api_tokens::token_hash.eq(hash_secret($secret)))
            .filter(api_tokens::revoked_at.is_null())
    };
}

/// Resolves a bearer token. Revoked tokens and tokens of deactivated agents
/// are refused. A person's token acts with the lower of its own role and the
/// person's role now, for the vendor the person works for now: a demotion or
/// a move takes effect on the next request, whatever tokens are out.
pub fn authenticate(conn: &mut Conn, secret: &str) -> AppResult<Principal> {
    let row: Option<TokenRow> = token_query!(secret)
        .select((
            ApiToken::as_select(),
            Option::<Agent>::as_select(),
            agents::open_tickets.nullable(),
        ))
        .first(&mut **conn)
        .optional()?;
    let (principal, _) = resolve(conn, row.ok_or_else(refused)?)?;
    Ok(principal)
}

/// The person a token acts for, as authentication read them.
#[derive(Debug, Clone)]
pub struct ActingAgent {
    pub agent: Agent,
    /// Open tickets they hold (`agents.open_tickets`, kept by the database).
    pub open_tickets: i32,
}

/// A queue as the claim reads it: the queue and whether its vendor masks
/// customers' details.
pub type QueueWithMasking = (Queue, bool);

/// [`authenticate`], with the agent the token acts for and the queue
/// `queue_ref` (id or slug) as the same query read them, for claims, the hot path of agents working a queue; `None` when
/// there is no such queue. Whether the caller may work it is the caller's
/// check.
pub fn authenticate_for_queue(
    conn: &mut Conn,
    secret: &str,
    queue_ref: &str,
) -> AppResult<(Principal, Option<ActingAgent>, Option<QueueWithMasking>)> {
    type Row = (
        ApiToken,
        Option<Agent>,
        Option<i32>,
        Option<Queue>,
        Option<bool>,
    );
    let row: Option<Row> = token_query!(secret)
        .left_join(
            queues::table.on(queues::id
                .eq(queue_ref.to_string())
                .or(queues::slug.eq(queue_ref.to_string()))),
        )
        .left_join(vendors::table.on(vendors::id.eq(queues::vendor_id)))
        .select((
            ApiToken::as_select(),
            Option::<Agent>::as_select(),
            agents::open_tickets.nullable(),
            Option::<Queue>::as_select(),
            vendors::mask_customer_pii.nullable(),
        ))
        .first(&mut **conn)
        .optional()?;
    let (token, agent, open_tickets, queue, mask) = row.ok_or_else(refused)?;
    let (principal, acting) = resolve(conn, (token, agent, open_tickets))?;
    // A queue always has its vendor; a missing one masks.
    Ok((principal, acting, queue.map(|q| (q, mask.unwrap_or(true)))))
}

/// The caller a token's row speaks for, recording the token's use.
fn resolve(
    conn: &mut Conn,
    (token, agent, open_tickets): TokenRow,
) -> AppResult<(Principal, Option<ActingAgent>)> {
    if agent.as_ref().is_some_and(|a| !a.active) {
        return Err(refused());
    }
    let issued_role: Role = token.role.parse().map_err(AppError::Internal)?;
    let role = match &agent {
        Some(person) => {
            let person_role: Role = person.role.parse().map_err(AppError::Internal)?;
            issued_role.capped_by(person_role)
        }
        None => issued_role,
    };
    let now = conn.now();
    // Record use at most once a minute, so authentication stays a read. The
    // filter keeps the requests that arrive together from each writing it.
    let stale = now - chrono::Duration::minutes(1);
    if token.last_used_at.is_none_or(|t| t < stale) {
        write_statement(conn, |conn| {
            diesel::update(api_tokens::table.find(&token.id))
                .filter(
                    api_tokens::last_used_at
                        .is_null()
                        .or(api_tokens::last_used_at.lt(stale)),
                )
                .set(api_tokens::last_used_at.eq(now))
                .execute(&mut **conn)
        })?;
    }
    let principal = Principal {
        token_id: token.id,
        role,
        agent_id: token.agent_id,
        vendor_id: agent.as_ref().and_then(|a| a.vendor_id.clone()),
    };
    let acting = agent.map(|agent| ActingAgent {
        agent,
        open_tickets: open_tickets.unwrap_or(0),
    });
    Ok((principal, acting))
}

/// A token as listed to admins: never the secret or its hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub agent_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
    pub revoked_at: Option<chrono::DateTime<Utc>>,
}

/// The answer to creating a token: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: TokenView,
    pub secret: String,
}

fn utc(t: NaiveDateTime) -> chrono::DateTime<Utc> {
    t.and_utc()
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            role: t.role.parse().unwrap_or(Role::Agent),
            id: t.id,
            name: t.name,
            agent_id: t.agent_id,
            created_at: utc(t.created_at),
            last_used_at: t.last_used_at.map(utc),
            revoked_at: t.revoked_at.map(utc),
        }
    }
}

/// Issues a token. Agent and lead tokens must belong to an active agent of a
/// vendor (that is what scopes them); a token never carries more power than
/// its agent's own role.
pub fn issue_token(
    conn: &mut WriteConn<'_>,
    role: Role,
    name: &str,
    agent_email: Option<&str>,
) -> AppResult<IssuedToken> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::invalid("name", "must be 1 to 200 characters"));
    }
    // Like every reference to an agent: its id, or (as before ids were
    // accepted everywhere) its email.
    let agent = match agent_email {
        Some(email) => Some(
            agents::table
                .filter(
                    agents::id
                        .eq(email.trim())
                        .or(agents::email.eq(email.trim().to_lowercase())),
                )
                .select(Agent::as_select())
                .first(&mut **conn)
                .optional()?
                .ok_or_else(|| {
                    AppError::invalid("agent", format!("no agent with id or email '{email}'"))
                })?,
        ),
        None => None,
    };
    match (&agent, role) {
        (None, r) if r.is_vendor_scoped() => {
            return Err(AppError::invalid(
                "agent",
                format!("a {r} token must belong to an agent"),
            ));
        }
        (Some(_), Role::Intake) => {
            return Err(AppError::invalid(
                "agent",
                "intake tokens are for machines and belong to no agent",
            ));
        }
        (Some(a), r) => {
            let agent_role: Role = a.role.parse().map_err(AppError::Internal)?;
            if !agent_role.covers(r) {
                return Err(AppError::invalid(
                    "role",
                    format!(
                        "agent {} is a {agent_role} and cannot hold a {r} token",
                        a.email
                    ),
                ));
            }
            if r.is_vendor_scoped() && a.vendor_id.is_none() {
                return Err(AppError::invalid(
                    "agent",
                    format!("a {r} token needs an agent who works for a vendor"),
                ));
            }
            if !a.active {
                return Err(AppError::invalid("agent", "the agent is deactivated"));
            }
        }
        (None, _) => {}
    }
    let secret = generate_secret();
    let token = ApiToken {
        id: conn.new_id(),
        name: name.to_string(),
        role: role.as_str().to_string(),
        agent_id: agent.map(|a| a.id),
        token_hash: hash_secret(&secret),
        created_at: conn.now(),
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_tokens::table)
        .values(&token)
        .execute(&mut **conn)?;
    Ok(IssuedToken {
        token: token.into(),
        secret,
    })
}

pub fn list_tokens(conn: &mut DbConnection) -> AppResult<Vec<TokenView>> {
    Ok(api_tokens::table
        .order(api_tokens::created_at.desc())
        .select(ApiToken::as_select())
        .load(conn)?
        .into_iter()
        .map(TokenView::from)
        .collect())
}

/// Revokes a token; revoking twice is harmless.
pub fn revoke_token(conn: &mut Conn, id: &str) -> AppResult<TokenView> {
    write_tx(conn, |conn| {
        let token: ApiToken = api_tokens::table
            .find(id)
            .select(ApiToken::as_select())
            .first(&mut **conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("token"))?;
        if token.revoked_at.is_some() {
            return Ok(token.into());
        }
        let now = conn.now();
        diesel::update(api_tokens::table.find(id))
            .set(api_tokens::revoked_at.eq(now))
            .execute(&mut **conn)?;
        Ok(ApiToken {
            revoked_at: Some(now),
            ..token
        }
        .into())
    })
}

/// First start: with no tokens at all, create an admin token so the operator
/// can get in, and return it for the caller to hand over.
pub fn bootstrap_admin_token(conn: &mut Conn) -> AppResult<Option<IssuedToken>> {
    write_tx(conn, |conn| {
        let existing: i64 = api_tokens::table.count().get_result(&mut **conn)?;
        if existing > 0 {
            return Ok(None);
        }
        issue_token(
            conn,
            Role::Admin,
            "initial admin (created at first start)",
            None,
        )
        .map(Some)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hash_stably() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("rly_") && a.len() == 4 + 64);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), a);
    }
}
