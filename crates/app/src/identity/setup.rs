//! First run and scripted installs: `POST /setup` while no user exists, and
//! `dev-health admin users create` / `admin platform-admin grant|revoke`.

use domain::{Role, UserId};
use serde::Deserialize;
use store::identity::{memberships, orgs, users};

use super::accounts::{check_name, check_password, parse_email};
use super::sessions::SignedIn;
use super::{Client, errors};
use crate::{App, AppError, ErrorKind, Result};

/// `POST /setup`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupInput {
    /// The owner's email.
    pub email: String,
    /// The owner's password.
    pub password: String,
    /// The owner's name.
    pub name: String,
    /// The first organization's name.
    pub org_name: String,
}

/// `dev-health admin users create`.
#[derive(Debug, Clone)]
pub struct NewUserInput {
    /// Email.
    pub email: String,
    /// Password (the policy applies).
    pub password: String,
    /// Display name (default: empty).
    pub name: Option<String>,
    /// Org slug to join, with `role`.
    pub org_slug: Option<String>,
    /// Role in that org (default viewer).
    pub role: Option<Role>,
    /// Make the user a platform admin.
    pub platform_admin: bool,
}

impl App {
    /// Whether the first-run setup is still open (no user exists).
    pub async fn setup_open(&self) -> Result<bool> {
        let mut c = self.store().acquire().await?;
        Ok(users::count(&mut c.conn()).await? == 0)
    }

    /// `POST /setup`: creates the owner (verified, platform admin), the first org and the
    /// owner membership, and signs the owner in. 409 once any user exists.
    pub async fn setup(&self, input: SetupInput, client: &Client) -> Result<SignedIn> {
        let now = self.clock().now();
        let email = parse_email(&input.email)?;
        check_password(&input.password, &email)?;
        let name = check_name("name", &input.name)?;
        let org_name = check_name("org_name", &input.org_name)?;
        let done = || {
            AppError::new(
                ErrorKind::Conflict,
                "setup_complete",
                "This server is already set up; sign in instead.",
            )
        };
        if !self.setup_open().await? {
            return Err(done());
        }
        let hash = self.identity().passwords.hash(input.password).await?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        if users::count(&mut conn).await? != 0 {
            return Err(done());
        }
        let id = UserId::new();
        users::insert(
            &mut conn,
            &users::NewUser {
                id,
                email: input.email.trim(),
                email_norm: email.as_str(),
                name: &name,
                password_hash: Some(&hash),
                verified_at: Some(now),
                platform_admin: true,
            },
            now,
        )
        .await?;
        let org = self.insert_org(&mut conn, &org_name).await?;
        memberships::insert(&mut conn, org.id, id, Role::Owner, None, now).await?;
        let user = users::by_id(&mut conn, id)
            .await?
            .ok_or_else(errors::internal)?;
        let signed = self
            .start_session(
                &mut conn,
                &user,
                Some((&org, Role::Owner)),
                "password",
                client,
            )
            .await?;
        tx.commit().await?;
        tracing::info!(user = %id, org = %org.id, "first-run setup complete");
        Ok(signed)
    }

    /// Creates a verified local user (CLI), optionally joining an org by slug.
    pub async fn create_user(&self, input: NewUserInput) -> Result<UserId> {
        let now = self.clock().now();
        let email = parse_email(&input.email)?;
        check_password(&input.password, &email)?;
        let name = match &input.name {
            Some(n) => check_name("name", n)?,
            None => String::new(),
        };
        let hash = self.identity().passwords.hash(input.password).await?;
        let mut tx = self.store().begin_write().await?;
        let mut conn = tx.conn();
        let org = match &input.org_slug {
            Some(slug) => Some(orgs::by_slug(&mut conn, slug).await?.ok_or_else(|| {
                AppError::new(
                    ErrorKind::NotFound,
                    "not_found",
                    format!("No organization has the slug {slug:?}."),
                )
            })?),
            None => None,
        };
        let id = UserId::new();
        users::insert(
            &mut conn,
            &users::NewUser {
                id,
                email: input.email.trim(),
                email_norm: email.as_str(),
                name: &name,
                password_hash: Some(&hash),
                verified_at: Some(now),
                platform_admin: input.platform_admin,
            },
            now,
        )
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                errors::conflict("email_taken", "A user with this email already exists.")
            } else {
                e.into()
            }
        })?;
        if let Some(org) = org {
            memberships::insert(
                &mut conn,
                org.id,
                id,
                input.role.unwrap_or(Role::Viewer),
                None,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Grants or revokes the platform admin flag (CLI only, identity spec §3.2 R6).
    pub async fn set_platform_admin(&self, email: &str, on: bool) -> Result<()> {
        let email = parse_email(email)?;
        let mut c = self.store().acquire().await?;
        if !users::set_platform_admin(&mut c.conn(), email.as_str(), on, self.clock().now()).await?
        {
            return Err(AppError::new(
                ErrorKind::NotFound,
                "not_found",
                "No user has this email.",
            ));
        }
        self.identity().invalidate();
        Ok(())
    }
}
