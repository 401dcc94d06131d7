//! JSON API routes.

mod auth;
pub(crate) mod billing;
mod docs;
mod integrations;
mod license;
mod license_webhook;
mod metrics;
mod org;
mod status_mappings;
mod sync;
mod system;

use crate::access::Routes;

/// Registers every API and machine route.
pub(crate) fn routes(routes: Routes) -> Routes {
    let routes = system::routes(routes);
    let routes = auth::routes(routes);
    let routes = org::routes(routes);
    let routes = license::routes(routes);
    let routes = license_webhook::routes(routes);
    let routes = billing::routes(routes);
    let routes = sync::routes(routes);
    let routes = integrations::routes(routes);
    let routes = status_mappings::routes(routes);
    let routes = metrics::routes(routes);
    docs::routes(routes)
}
