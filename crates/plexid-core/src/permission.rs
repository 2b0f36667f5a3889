//! Global permissions with authentik's names. Superusers hold them all.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Add,
    Change,
    Delete,
    View,
}

/// The models plexid guards with RBAC permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Model {
    PlexSource,
    PlexSourcePropertyMapping,
    UserPlexSourceConnection,
    GroupPlexSourceConnection,
    Flow,
    User,
    Group,
    Token,
    PropertyMapping,
    Event,
    Application,
    OAuth2Provider,
    ProxyProvider,
}

impl Model {
    fn app_and_name(self) -> (&'static str, &'static str) {
        match self {
            Model::PlexSource => ("authentik_sources_plex", "plexsource"),
            Model::PlexSourcePropertyMapping => ("authentik_sources_plex", "plexsourcepropertymapping"),
            Model::UserPlexSourceConnection => ("authentik_sources_plex", "userplexsourceconnection"),
            Model::GroupPlexSourceConnection => ("authentik_sources_plex", "groupplexsourceconnection"),
            Model::Flow => ("authentik_flows", "flow"),
            Model::User => ("authentik_core", "user"),
            Model::Group => ("authentik_core", "group"),
            Model::Token => ("authentik_core", "token"),
            Model::PropertyMapping => ("authentik_core", "propertymapping"),
            Model::Event => ("authentik_events", "event"),
            Model::Application => ("authentik_core", "application"),
            Model::OAuth2Provider => ("authentik_providers_oauth2", "oauth2provider"),
            Model::ProxyProvider => ("authentik_providers_proxy", "proxyprovider"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permission {
    pub action: Action,
    pub model: Model,
}

impl Permission {
    pub const fn new(action: Action, model: Model) -> Self {
        Permission { action, model }
    }

    /// Every permission plexid knows, for validation of grants.
    pub fn all() -> impl Iterator<Item = Permission> {
        const MODELS: [Model; 13] = [
            Model::PlexSource,
            Model::PlexSourcePropertyMapping,
            Model::UserPlexSourceConnection,
            Model::GroupPlexSourceConnection,
            Model::Flow,
            Model::User,
            Model::Group,
            Model::Token,
            Model::PropertyMapping,
            Model::Event,
            Model::Application,
            Model::OAuth2Provider,
            Model::ProxyProvider,
        ];
        MODELS.into_iter().flat_map(|model| {
            [Action::Add, Action::Change, Action::Delete, Action::View]
                .into_iter()
                .map(move |action| Permission { action, model })
        })
    }

    /// Parses `authentik_sources_plex.view_plexsource`.
    pub fn parse(codename: &str) -> Option<Permission> {
        Permission::all().find(|p| p.to_string() == codename)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (app, model) = self.model.app_and_name();
        let action = match self.action {
            Action::Add => "add",
            Action::Change => "change",
            Action::Delete => "delete",
            Action::View => "view",
        };
        write!(f, "{app}.{action}_{model}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_authentik() {
        let p = Permission::new(Action::Add, Model::PlexSource);
        assert_eq!(p.to_string(), "authentik_sources_plex.add_plexsource");
        assert_eq!(
            Permission::parse("authentik_sources_plex.view_plexsourcepropertymapping"),
            Some(Permission::new(Action::View, Model::PlexSourcePropertyMapping))
        );
        assert_eq!(Permission::parse("authentik_sources_plex.fly_plexsource"), None);
        assert_eq!(Permission::all().count(), 52);
        assert_eq!(Permission::parse("authentik_events.view_event"), Some(Permission::new(Action::View, Model::Event)));
    }
}
