//! JSON API routes.

mod docs;
mod system;

use crate::access::Routes;

/// Registers every API and machine route.
pub(crate) fn routes(routes: Routes) -> Routes {
    let routes = system::routes(routes);
    docs::routes(routes)
}
