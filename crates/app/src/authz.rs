//! Authorization: who is calling, and the capability values only a passed check can produce.
//!
//! A route declares the permission it needs as a type (`Authorized<marker::MembersRead>`); the
//! only constructor is [`authorize`], which checks the principal's live role (and, for API
//! tokens, the token's scopes). Services take the capability, so a use case reached without its
//! check does not compile. The org scope inside it comes from the principal, never from input.

use std::marker::PhantomData;

use domain::{OrgId, Permission, PermissionMarker, Role, UserId};

use crate::{AppError, ErrorKind};

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser or API session (access JWT).
    Session,
    /// An API token with its scopes.
    ApiToken {
        /// Permissions the token was granted; effective = scopes ∩ the creator's role.
        scopes: Vec<Permission>,
    },
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: UserId,
    /// The org the session is scoped to and the member's live role in it (None: orgless).
    pub membership: Option<(OrgId, Role)>,
    /// Platform admin flag (settable only from the CLI).
    pub platform_admin: bool,
    /// How the caller authenticated.
    pub credential: Credential,
    /// The session id (JWT `sid`) or the API token id.
    pub credential_id: uuid::Uuid,
}

impl Principal {
    /// The org the principal acts in, or 403 `forbidden` for an orgless session.
    pub fn org(&self) -> Result<OrgId, AppError> {
        self.membership.map(|(org, _)| org).ok_or_else(|| {
            AppError::new(
                ErrorKind::Forbidden,
                "forbidden",
                "Select an organization first.",
            )
        })
    }

    /// Whether this principal holds `permission` right now.
    pub fn holds(&self, permission: Permission) -> bool {
        if permission.platform_only() {
            return self.platform_admin && self.credential == Credential::Session;
        }
        let Some((_, role)) = self.membership else {
            return false;
        };
        if !permission.granted_to(role) {
            return false;
        }
        match &self.credential {
            Credential::Session => true,
            Credential::ApiToken { scopes } => {
                permission.api_grantable() && scopes.contains(&permission)
            }
        }
    }
}

/// The org a request may touch. Only [`authorize`] (from a live membership) and the platform
/// layer create one; repositories of org-scoped tables take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgScope(OrgId);

impl OrgScope {
    /// The org id to filter by.
    pub fn org_id(self) -> OrgId {
        self.0
    }
}

/// Proof that the principal holds permission `P`.
#[derive(Debug, Clone)]
pub struct Authorized<P: PermissionMarker> {
    principal: Principal,
    scope: Option<OrgScope>,
    _permission: PhantomData<P>,
}

impl<P: PermissionMarker> Authorized<P> {
    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The org the caller acts in (None for platform permissions).
    pub fn scope(&self) -> Option<OrgScope> {
        self.scope
    }

    /// The org a member capability is scoped to; 401 for a capability without one.
    pub fn org_id(&self) -> Result<OrgId, AppError> {
        self.scope.map(|s| s.org_id()).ok_or_else(unauthenticated)
    }
}

/// The error for a request that carries no valid credential.
pub fn unauthenticated() -> AppError {
    AppError::new(
        ErrorKind::Unauthenticated,
        "unauthenticated",
        "Sign in or send a valid access token.",
    )
}

/// The check behind every route declaration and every `Authorized<P>`: `None` → 401 and a
/// principal without `permission` → 403 `forbidden` naming the permission.
pub fn check(
    principal: Option<&Principal>,
    permission: Permission,
) -> Result<&Principal, AppError> {
    let principal = principal.ok_or_else(unauthenticated)?;
    if !principal.holds(permission) {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "forbidden",
            format!("This action needs the {permission} permission."),
        )
        .with("permission", permission.as_str()));
    }
    Ok(principal)
}

/// Produces the capability for `P` after [`check`].
pub fn authorize<P: PermissionMarker>(
    principal: Option<&Principal>,
) -> Result<Authorized<P>, AppError> {
    let principal = check(principal, P::PERMISSION)?;
    let scope = if P::PERMISSION.platform_only() {
        None
    } else {
        principal.membership.map(|(org, _)| OrgScope(org))
    };
    Ok(Authorized {
        principal: principal.clone(),
        scope,
        _permission: PhantomData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::permission::marker;

    fn member(role: Role, credential: Credential) -> Principal {
        Principal {
            user_id: UserId::new(),
            membership: Some((OrgId::new(), role)),
            platform_admin: false,
            credential,
            credential_id: uuid::Uuid::nil(),
        }
    }

    #[test]
    fn roles_follow_the_matrix() {
        let viewer = member(Role::Viewer, Credential::Session);
        assert!(authorize::<marker::AnalyticsRead>(Some(&viewer)).is_ok());
        let err = authorize::<marker::MembersRemove>(Some(&viewer)).unwrap_err();
        assert_eq!((err.kind, err.code), (ErrorKind::Forbidden, "forbidden"));
        assert_eq!(err.details["permission"], "members:remove");
        let owner = member(Role::Owner, Credential::Session);
        let ok = authorize::<marker::BillingManage>(Some(&owner)).unwrap();
        assert_eq!(
            ok.scope().map(OrgScope::org_id),
            owner.membership.map(|m| m.0)
        );
    }

    #[test]
    fn anonymous_is_unauthenticated() {
        let err = authorize::<marker::OrgRead>(None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unauthenticated);
    }

    #[test]
    fn api_tokens_need_the_scope_and_the_role_and_a_grantable_permission() {
        let scoped = member(
            Role::Admin,
            Credential::ApiToken {
                scopes: vec![Permission::AuditRead, Permission::InvitesManage],
            },
        );
        assert!(scoped.holds(Permission::AuditRead));
        assert!(!scoped.holds(Permission::AuditExport), "not in scopes");
        assert!(
            !scoped.holds(Permission::InvitesManage),
            "not API-grantable"
        );
        let demoted = member(
            Role::Viewer,
            Credential::ApiToken {
                scopes: vec![Permission::AuditRead],
            },
        );
        assert!(
            !demoted.holds(Permission::AuditRead),
            "scopes shrink with the role"
        );
    }

    #[test]
    fn platform_permissions_need_a_platform_admin_session() {
        let mut admin = Principal {
            user_id: UserId::new(),
            membership: None,
            platform_admin: true,
            credential: Credential::Session,
            credential_id: uuid::Uuid::nil(),
        };
        assert!(authorize::<marker::PlatformFeatureFlags>(Some(&admin)).is_ok());
        admin.credential = Credential::ApiToken {
            scopes: Permission::ALL.to_vec(),
        };
        assert!(authorize::<marker::PlatformFeatureFlags>(Some(&admin)).is_err());
        let owner = member(Role::Owner, Credential::Session);
        assert!(authorize::<marker::PlatformOrgs>(Some(&owner)).is_err());
    }
}
