//! The closed sets of values plexid's models use, with authentik's spellings.

use std::fmt;

/// Declares a string enum with `as_str`, `parse`, `ALL` and `Display`.
macro_rules! choices {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in authentik's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every value's text, in authentik's order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).ok_or_else(|| serde::de::Error::unknown_variant(&text, $name::NAMES))
            }
        }
    };
}

choices!(/// How a Plex login finds the user it belongs to when no connection exists yet.
    UserMatchingMode {
    Identifier = "identifier",
    EmailLink = "email_link",
    EmailDeny = "email_deny",
    UsernameLink = "username_link",
    UsernameDeny = "username_deny",
});

choices!(/// How a group named by a mapping is found when no group connection exists yet.
    GroupMatchingMode {
    Identifier = "identifier",
    NameLink = "name_link",
    NameDeny = "name_deny",
});

choices!(/// Whether all or any bound policies must pass.
    PolicyEngineMode {
    All = "all",
    Any = "any",
});

choices!(/// What a flow is for.
    FlowDesignation {
    Authentication = "authentication",
    Authorization = "authorization",
    Invalidation = "invalidation",
    Enrollment = "enrollment",
    Unenrollment = "unenrollment",
    Recovery = "recovery",
    StageConfiguration = "stage_configuration",
});

choices!(/// Who may run a flow.
    FlowAuthentication {
    None = "none",
    RequireAuthenticated = "require_authenticated",
    RequireUnauthenticated = "require_unauthenticated",
    RequireSuperuser = "require_superuser",
    RequireRedirect = "require_redirect",
    RequireOutpost = "require_outpost",
});

choices!(/// How a flow is laid out (kept for authentik's clients).
    FlowLayout {
    Stacked = "stacked",
    ContentLeft = "content_left",
    ContentRight = "content_right",
    SidebarLeft = "sidebar_left",
    SidebarRight = "sidebar_right",
});

choices!(/// What a flow does when access is denied.
    FlowDeniedAction {
    MessageContinue = "message_continue",
    Message = "message",
    Continue = "continue",
});

choices!(/// What a token is for; only `api` tokens authenticate API calls.
    TokenIntent {
    Verification = "verification",
    Api = "api",
    Recovery = "recovery",
    AppPassword = "app_password",
});

choices!(/// The kind of account.
    UserType {
    Internal = "internal",
    External = "external",
    ServiceAccount = "service_account",
    InternalServiceAccount = "internal_service_account",
});

choices!(/// What an audit event records (authentik's `EventActions`, every value).
    EventAction {
    Login = "login",
    LoginFailed = "login_failed",
    Logout = "logout",
    UserWrite = "user_write",
    SuspiciousRequest = "suspicious_request",
    PasswordSet = "password_set",
    SecretView = "secret_view",
    SecretRotate = "secret_rotate",
    InvitationUsed = "invitation_used",
    AuthorizeApplication = "authorize_application",
    SourceLinked = "source_linked",
    ImpersonationStarted = "impersonation_started",
    ImpersonationEnded = "impersonation_ended",
    FlowExecution = "flow_execution",
    PolicyExecution = "policy_execution",
    PolicyException = "policy_exception",
    PropertyMappingException = "property_mapping_exception",
    SystemTaskExecution = "system_task_execution",
    SystemTaskException = "system_task_exception",
    SystemException = "system_exception",
    ConfigurationError = "configuration_error",
    ModelCreated = "model_created",
    ModelUpdated = "model_updated",
    ModelDeleted = "model_deleted",
    EmailSent = "email_sent",
    UpdateAvailable = "update_available",
    Custom = "custom_",
});

choices!(/// What an application's provider is.
    ProviderKind {
    OAuth2 = "oauth2",
    Proxy = "proxy",
});

choices!(/// Whether an OAuth2 client can keep a secret.
    ClientType {
    Confidential = "confidential",
    Public = "public",
});

choices!(/// What the `sub` claim holds.
    SubMode {
    HashedUserId = "hashed_user_id",
    UserId = "user_id",
    UserUuid = "user_uuid",
    UserUsername = "user_username",
    UserEmail = "user_email",
    UserUpn = "user_upn",
});

choices!(/// Whether each provider has its own issuer or all share one.
    IssuerMode {
    Global = "global",
    PerProvider = "per_provider",
});

choices!(/// How a proxy provider is used (plexid implements the two forward-auth modes).
    ProxyMode {
    Proxy = "proxy",
    ForwardSingle = "forward_single",
    ForwardDomain = "forward_domain",
});

choices!(/// The algorithm an OAuth2 provider signs ID tokens with (plexid's extension field
    /// `id_token_signing_alg`; the keys are plexid's own).
    SigningAlg {
    Rs256 = "RS256",
    Es256 = "ES256",
});

choices!(/// A Plex relationship an application can admit by.
    AppRelationship {
    Owner = "owner",
    Home = "home",
    Friend = "friend",
    ServerMember = "server_member",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_value() {
        for mode in UserMatchingMode::ALL {
            assert_eq!(UserMatchingMode::parse(mode.as_str()), Some(*mode));
        }
        assert_eq!(UserMatchingMode::NAMES.len(), 5);
        assert_eq!(GroupMatchingMode::parse("name_deny"), Some(GroupMatchingMode::NameDeny));
        assert_eq!(TokenIntent::parse("bogus"), None);
        assert_eq!(FlowDesignation::StageConfiguration.to_string(), "stage_configuration");
        assert_eq!(UserType::NAMES, ["internal", "external", "service_account", "internal_service_account"]);
    }
}
