//! Applications and their providers.

use plexid_core::apps::{AccessRules, Application, Provider};
use plexid_core::modes::{PolicyEngineMode, ProviderKind};
use plexid_core::{ApplicationId, FlowId, ProviderId, SourceId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};

/// A provider and the application it is assigned to (slug, name), if any.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderRow {
    pub provider: Provider,
    pub application: Option<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct ProviderFilter {
    pub name: Option<String>,
    pub client_id: Option<String>,
    pub application_isnull: Option<bool>,
    /// Exact values of settings (`client_type`, `sub_mode`, `issuer_mode`): (setting, value).
    pub settings: Vec<(&'static str, String)>,
    /// Case-insensitive exact matches (`name__iexact`, `mode__iexact`, …): (`name` or a
    /// setting, value).
    pub iexact: Vec<(&'static str, String)>,
    pub search: Vec<String>,
}

pub const PROVIDER_ORDERING: &[&str] = &["pk", "name"];
const PROVIDER_ORDER_COLUMNS: &[(&str, &str)] = &[("pk", "id")];

const PROVIDER_SELECT: &str = "SELECT p.id, p.kind, p.name, p.authentication_flow, p.authorization_flow, p.client_id, \
     p.client_secret_hash, p.client_secret_hint, p.settings, a.slug AS app_slug, a.name AS app_name \
     FROM provider p LEFT JOIN application a ON a.provider_id = p.id";

fn provider_from_row(row: &Row) -> StoreResult<Provider> {
    Ok(Provider {
        id: ProviderId(row.int("id")?),
        kind: row.choice("kind", ProviderKind::parse)?,
        name: row.text("name")?,
        authentication_flow: row.opt_uuid("authentication_flow")?.map(FlowId),
        authorization_flow: FlowId(row.uuid("authorization_flow")?),
        client_id: row.text("client_id")?,
        client_secret_hash: row.text("client_secret_hash")?,
        client_secret_hint: row.text("client_secret_hint")?,
        settings: row.json("settings")?,
    })
}

fn provider_row(row: &Row) -> StoreResult<ProviderRow> {
    let application = match (row.opt_text("app_slug")?, row.opt_text("app_name")?) {
        (Some(slug), Some(name)) => Some((slug, name)),
        _ => None,
    };
    Ok(ProviderRow { provider: provider_from_row(row)?, application })
}

#[derive(Clone, Debug, Default)]
pub struct ApplicationFilter {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub group: Option<String>,
    pub meta_publisher: Option<String>,
    pub meta_description: Option<String>,
    pub meta_launch_url: Option<String>,
    pub only_with_launch_url: bool,
    pub search: Vec<String>,
}

pub const APPLICATION_ORDERING: &[&str] = &["name", "slug", "group"];
const APPLICATION_ORDER_COLUMNS: &[(&str, &str)] = &[("group", "group_name")];

/// A connection of a user that still grants what its relationship says.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveConnection {
    pub source: SourceId,
    pub plex_id: String,
    pub relationship: plexid_core::login::Relationship,
    /// The email address plex.tv confirmed for the Plex account (empty: none).
    pub verified_email: String,
}

const APPLICATION_SELECT: &str = "SELECT a.uuid, a.slug, a.name, a.provider_id, a.open_in_new_tab, a.meta_launch_url, \
     a.meta_description, a.meta_publisher, a.policy_engine_mode, a.group_name, a.access, a.access_source_uuid \
     FROM application a";

fn application_from_row(row: &Row) -> StoreResult<Application> {
    Ok(Application {
        id: ApplicationId(row.uuid("uuid")?),
        slug: row.text("slug")?,
        name: row.text("name")?,
        provider: row.opt_int("provider_id")?.map(ProviderId),
        open_in_new_tab: row.boolean("open_in_new_tab")?,
        meta_launch_url: row.text("meta_launch_url")?,
        meta_description: row.text("meta_description")?,
        meta_publisher: row.text("meta_publisher")?,
        policy_engine_mode: row.choice("policy_engine_mode", PolicyEngineMode::parse)?,
        group: row.text("group_name")?,
        access: AccessRules { source: row.opt_uuid("access_source_uuid")?.map(SourceId), ..row.json("access")? },
    })
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("plain records serialise")
}

impl<A: Access> Conn<'_, A> {
    pub async fn list_providers(
        &mut self,
        kind: ProviderKind,
        filter: &ProviderFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<ProviderRow>> {
        let mut f = Filter::default();
        f.eq("p.kind", Some(kind.as_str()));
        f.eq("p.name", filter.name.clone());
        f.eq("p.client_id", filter.client_id.clone());
        let dialect = self.dialect();
        let setting = |name: &str| dialect.json_text("p.settings", &[name]);
        for (name, value) in &filter.settings {
            f.eq(&setting(name), Some(value.clone()));
        }
        for (name, value) in &filter.iexact {
            let column = if *name == "name" { "p.name".to_owned() } else { setting(name) };
            let p = f.bind(value.to_lowercase());
            f.clause(format!("LOWER({column}) = {p}"));
        }
        match filter.application_isnull {
            Some(true) => f.clause("a.uuid IS NULL".into()),
            Some(false) => f.clause("a.uuid IS NOT NULL".into()),
            None => {}
        }
        f.search(&filter.search, &["p.name", "a.name", "a.slug"]);
        ListQuery { select: PROVIDER_SELECT, columns: PROVIDER_ORDER_COLUMNS, tiebreak: "id" }
            .run(self, f, ordering, window, provider_row)
            .await
    }

    pub async fn provider_by_id(&mut self, id: ProviderId) -> StoreResult<Option<ProviderRow>> {
        let sql = format!("{PROVIDER_SELECT} WHERE p.id = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(provider_row).transpose()
    }

    pub async fn providers_by_ids(&mut self, ids: &[ProviderId]) -> StoreResult<Vec<ProviderRow>> {
        let head = format!("{PROVIDER_SELECT} WHERE p.id IN");
        let rows = self.rows_in(&head, ids.iter().map(|id| Param::from(*id)), "").await?;
        rows.iter().map(provider_row).collect()
    }

    pub async fn provider_by_client_id(&mut self, client_id: &str) -> StoreResult<Option<ProviderRow>> {
        let sql = format!("{PROVIDER_SELECT} WHERE p.client_id = $1");
        self.fetch_optional(&sql, params![client_id]).await?.as_ref().map(provider_row).transpose()
    }

    /// Every forward-auth provider with its application (few; matched by host in the caller).
    pub async fn proxy_providers(&mut self) -> StoreResult<Vec<ProviderRow>> {
        let sql = format!("{PROVIDER_SELECT} WHERE p.kind = $1 ORDER BY p.id");
        let rows = self.fetch_all(&sql, params![ProviderKind::Proxy.as_str()]).await?;
        rows.iter().map(provider_row).collect()
    }

    /// Providers whose flows include this one: (id, name, kind).
    pub async fn providers_using_flow(&mut self, flow: FlowId) -> StoreResult<Vec<(ProviderId, String, ProviderKind)>> {
        let rows = self
            .fetch_all(
                "SELECT id, name, kind FROM provider WHERE authorization_flow = $1 OR authentication_flow = $1 ORDER BY name, id",
                params![flow],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((ProviderId(r.int("id")?), r.text("name")?, r.choice("kind", ProviderKind::parse)?)))
            .collect()
    }

    pub async fn list_applications(
        &mut self,
        filter: &ApplicationFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<Application>> {
        let mut f = Filter::default();
        f.eq("a.slug", filter.slug.clone());
        f.eq("a.name", filter.name.clone());
        f.eq("a.group_name", filter.group.clone());
        f.eq("a.meta_publisher", filter.meta_publisher.clone());
        f.eq("a.meta_description", filter.meta_description.clone());
        f.eq("a.meta_launch_url", filter.meta_launch_url.clone());
        if filter.only_with_launch_url {
            f.clause("a.meta_launch_url <> ''".into());
        }
        f.search(&filter.search, &["a.name", "a.slug", "a.meta_publisher", "a.meta_description", "a.group_name"]);
        ListQuery { select: APPLICATION_SELECT, columns: APPLICATION_ORDER_COLUMNS, tiebreak: "uuid" }
            .run(self, f, ordering, window, application_from_row)
            .await
    }

    /// Every application (for the access sweep and the per-user listing).
    pub async fn all_applications(&mut self) -> StoreResult<Vec<Application>> {
        let sql = format!("{APPLICATION_SELECT} ORDER BY a.name, a.uuid");
        self.fetch_all(&sql, vec![]).await?.iter().map(application_from_row).collect()
    }

    pub async fn application_by_slug(&mut self, slug: &str) -> StoreResult<Option<Application>> {
        let sql = format!("{APPLICATION_SELECT} WHERE a.slug = $1");
        self.fetch_optional(&sql, params![slug]).await?.as_ref().map(application_from_row).transpose()
    }

    /// The groups a user is in, with every group those are children of (at most 20 levels).
    pub async fn user_group_closure(&mut self, user: plexid_core::UserId) -> StoreResult<Vec<plexid_core::GroupId>> {
        let rows = self
            .fetch_all(
                "WITH RECURSIVE up (uuid, depth) AS ( \
                   SELECT group_uuid, CAST(1 AS BIGINT) FROM group_member WHERE user_id = $1 \
                   UNION SELECT g.parent, u.depth + 1 FROM app_group g JOIN up u ON g.uuid = u.uuid \
                   WHERE g.parent IS NOT NULL AND u.depth < 20) \
                 SELECT DISTINCT uuid FROM up",
                params![user],
            )
            .await?;
        rows.iter().map(|r| Ok(plexid_core::GroupId(r.uuid("uuid")?))).collect()
    }

    /// A user's connections whose access has not been revoked, oldest first.
    pub async fn live_connections(&mut self, user: plexid_core::UserId) -> StoreResult<Vec<LiveConnection>> {
        let rows = self
            .fetch_all(
                "SELECT source_uuid, identifier, relationship, verified_email FROM user_source_connection \
                 WHERE user_id = $1 AND access_revoked IS NULL ORDER BY id",
                params![user],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LiveConnection {
                    source: SourceId(r.uuid("source_uuid")?),
                    plex_id: r.text("identifier")?,
                    relationship: r.json("relationship")?,
                    verified_email: r.text("verified_email")?,
                })
            })
            .collect()
    }

    pub async fn application_of_provider(&mut self, provider: ProviderId) -> StoreResult<Option<Application>> {
        let sql = format!("{APPLICATION_SELECT} WHERE a.provider_id = $1");
        self.fetch_optional(&sql, params![provider]).await?.as_ref().map(application_from_row).transpose()
    }
}

const PROVIDER_COLUMNS: &str =
    "kind, name, authentication_flow, authorization_flow, client_id, client_secret_hash, client_secret_hint, settings";

fn provider_params(p: &Provider) -> Vec<Param> {
    params![
        p.kind.as_str(),
        &p.name,
        p.authentication_flow,
        p.authorization_flow,
        &p.client_id,
        &p.client_secret_hash,
        &p.client_secret_hint,
        json(&p.settings),
    ]
}

fn application_params(a: &Application) -> Vec<Param> {
    params![
        a.id,
        &a.slug,
        &a.name,
        a.provider,
        a.open_in_new_tab,
        &a.meta_launch_url,
        &a.meta_description,
        &a.meta_publisher,
        a.policy_engine_mode.as_str(),
        &a.group,
        json(&a.access),
        a.access.source,
    ]
}

impl Conn<'_, ReadWrite> {
    pub async fn provider_for_update(&mut self, id: ProviderId) -> StoreResult<Option<ProviderRow>> {
        let sql = format!("{PROVIDER_SELECT} WHERE p.id = $1{}", self.dialect().for_update_of("p"));
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(provider_row).transpose()
    }

    pub async fn insert_provider(&mut self, p: &Provider) -> StoreResult<ProviderId> {
        let sql =
            format!("INSERT INTO provider ({PROVIDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id");
        Ok(ProviderId(self.fetch_one(&sql, provider_params(p)).await?.int("id")?))
    }

    pub async fn update_provider(&mut self, p: &Provider) -> StoreResult<()> {
        let mut values = provider_params(p);
        values.push(p.id.into());
        self.execute(
            "UPDATE provider SET kind = $1, name = $2, authentication_flow = $3, authorization_flow = $4, client_id = $5, \
             client_secret_hash = $6, client_secret_hint = $7, settings = $8 WHERE id = $9",
            values,
        )
        .await
        .map(drop)
    }

    pub async fn delete_provider(&mut self, id: ProviderId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM provider WHERE id = $1", params![id]).await? > 0)
    }

    pub async fn application_for_update(&mut self, slug: &str) -> StoreResult<Option<Application>> {
        let sql = format!("{APPLICATION_SELECT} WHERE a.slug = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![slug]).await?.as_ref().map(application_from_row).transpose()
    }

    pub async fn insert_application(&mut self, a: &Application) -> StoreResult<()> {
        self.execute(
            "INSERT INTO application (uuid, slug, name, provider_id, open_in_new_tab, meta_launch_url, meta_description, \
             meta_publisher, policy_engine_mode, group_name, access, access_source_uuid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            application_params(a),
        )
        .await
        .map(drop)
    }

    pub async fn update_application(&mut self, a: &Application) -> StoreResult<()> {
        self.execute(
            "UPDATE application SET slug = $2, name = $3, provider_id = $4, open_in_new_tab = $5, meta_launch_url = $6, \
             meta_description = $7, meta_publisher = $8, policy_engine_mode = $9, group_name = $10, access = $11, \
             access_source_uuid = $12 WHERE uuid = $1",
            application_params(a),
        )
        .await
        .map(drop)
    }

    pub async fn delete_application(&mut self, id: ApplicationId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM application WHERE uuid = $1", params![id]).await? > 0)
    }
}
