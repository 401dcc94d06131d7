//! Startup comparison of the seeded catalogue tables with the compiled matrix and registry.
//!
//! The compiled `Permission` matrix and `Feature` registry are the source of truth. A
//! `role_permissions` table that differs would mean an operator (or a bad migration) changed who
//! may do what, so the server refuses to start. A `feature_flags.min_tier` that differs is only
//! logged: the compiled value wins and no gate reads the column.

use std::collections::BTreeSet;

use domain::{Feature, Permission, Role};
use store::catalog;

use crate::{App, AppError, ErrorKind};

/// What the comparison found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatalogueReport {
    /// Differences that stop startup.
    pub errors: Vec<String>,
    /// Differences that are logged.
    pub warnings: Vec<String>,
}

impl App {
    /// Compares `permissions`, `role_permissions` and `feature_flags` with the binary.
    pub async fn check_catalogue(&self) -> crate::Result<CatalogueReport> {
        let mut c = self.store().acquire().await?;
        let mut report = CatalogueReport::default();

        let stored: BTreeSet<_> = catalog::permissions(&mut c.conn())
            .await?
            .into_iter()
            .map(|p| (p.name, p.platform_only, p.api_grantable))
            .collect();
        let compiled: BTreeSet<_> = Permission::ALL
            .iter()
            .map(|p| (p.as_str().to_owned(), p.platform_only(), p.api_grantable()))
            .collect();
        for extra in stored.difference(&compiled) {
            report
                .errors
                .push(format!("permissions has an unexpected row {extra:?}"));
        }
        for missing in compiled.difference(&stored) {
            report.errors.push(format!("permissions lacks {missing:?}"));
        }

        let stored: BTreeSet<_> = catalog::role_permissions(&mut c.conn())
            .await?
            .into_iter()
            .collect();
        let compiled: BTreeSet<_> = Role::ALL
            .iter()
            .flat_map(|r| {
                r.permissions()
                    .map(move |p| (r.as_str().to_owned(), p.as_str().to_owned()))
            })
            .collect();
        for extra in stored.difference(&compiled) {
            report.errors.push(format!(
                "role_permissions grants {} to {} but the binary does not",
                extra.1, extra.0
            ));
        }
        for missing in compiled.difference(&stored) {
            report.errors.push(format!(
                "role_permissions lacks {} for {}",
                missing.1, missing.0
            ));
        }

        let flags = catalog::feature_flags(&mut c.conn()).await?;
        let names: BTreeSet<&str> = flags.iter().map(|f| f.name.as_str()).collect();
        for feature in Feature::ALL {
            if !names.contains(feature.as_str()) {
                report.errors.push(format!("feature_flags lacks {feature}"));
            }
        }
        for flag in &flags {
            match flag.name.parse::<Feature>() {
                Ok(f) if f.min_tier().as_str() != flag.min_tier => report.warnings.push(format!(
                    "feature_flags.min_tier of {} is {} but the binary says {}; the binary wins",
                    flag.name,
                    flag.min_tier,
                    f.min_tier()
                )),
                Ok(_) => {}
                Err(_) => report
                    .warnings
                    .push(format!("feature_flags has unknown feature {}", flag.name)),
            }
        }
        Ok(report)
    }

    /// [`App::check_catalogue`], logging warnings and failing on errors.
    pub async fn verify_catalogue(&self) -> crate::Result<()> {
        let report = self.check_catalogue().await?;
        for w in &report.warnings {
            tracing::warn!("{w}");
        }
        if report.errors.is_empty() {
            return Ok(());
        }
        Err(AppError::new(
            ErrorKind::Internal,
            "catalogue_mismatch",
            format!(
                "the permission tables differ from this binary: {}",
                report.errors.join("; ")
            ),
        ))
    }
}
