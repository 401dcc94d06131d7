# Launch localstripe bound to 127.0.0.1 only (its own CLI binds '::' = all interfaces).
#
# Project copy of ../shared/peers/stripe/run_localstripe.py (the team's test-peers kit), kept
# here so a fresh clone runs its tests without the shared folder; `scripts/peers start` runs
# it. Added here: --with-billing-portal (localstripe_billing_portal.py).
import argparse, logging
from aiohttp import web
from localstripe.server import app
from localstripe.resources import store

p = argparse.ArgumentParser()
p.add_argument('--host', default='127.0.0.1')
p.add_argument('--port', type=int, default=8420)
p.add_argument('--from-scratch', action='store_true')
p.add_argument('--with-checkout', action='store_true', help='add /v1/prices + /v1/checkout/sessions shim')
p.add_argument('--with-billing-portal', action='store_true', help='add /v1/billing_portal/sessions shim')
a = p.parse_args()
if a.with_checkout:
    import localstripe_checkout  # noqa: F401  (registers extra routes)
if a.with_billing_portal:
    import localstripe_billing_portal  # noqa: F401  (registers extra routes and a middleware)
if not a.from_scratch:
    store.try_load_from_disk()
log = logging.getLogger('aiohttp.access'); log.setLevel(logging.DEBUG); log.addHandler(logging.StreamHandler())
web.run_app(app, host=a.host, port=a.port, access_log=log)
