//! JSON API routes.

mod auth;
mod docs;
mod license;
mod org;
mod system;

use crate::access::Routes;

/// Registers every API and machine route.
pub(crate) fn routes(routes: Routes) -> Routes {
    let routes = system::routes(routes);
    let routes = auth::routes(routes);
    let routes = org::routes(routes);
    let routes = license::routes(routes);
    docs::routes(routes)
}
