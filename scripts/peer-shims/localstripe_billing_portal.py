# Thin extension for localstripe 1.15.x, which has no Customer Portal (written for this project;
# same style as localstripe_checkout.py).
#   POST /v1/billing_portal/sessions   form: customer (required), return_url (required)
#        -> {id: "bps_…", object: "billing_portal.session", customer, return_url, created,
#            livemode: false, url: "http://<host>/_portal/<id>"}
#        an unknown customer answers 404 with Stripe's error shape
#        {"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "customer",
#                   "message": "No such customer: 'cus_…'"}}
#   GET  /_portal/{id}                 a minimal page standing in for the hosted portal, with a
#        link back to the session's return_url (no API key needed, as a browser opens it).
# Import this module BEFORE the aiohttp app starts (routes and middlewares are frozen then).
import html

from aiohttp import web
from localstripe import resources as R
from localstripe.errors import UserError
from localstripe.server import app, get_post_data


class BillingPortalSession(R.StripeObject):
    object = 'billing_portal.session'
    _id_prefix = 'bps_'

    def __init__(self, customer=None, return_url=None, base=None, **kwargs):
        if not customer or not isinstance(customer, str):
            raise UserError(400, 'Missing required param: customer.',
                            {'code': 'parameter_missing', 'param': 'customer'})
        if not return_url or not isinstance(return_url, str):
            raise UserError(400, 'Missing required param: return_url.',
                            {'code': 'parameter_missing', 'param': 'return_url'})
        try:
            R.Customer._api_retrieve(customer)
        except UserError:
            raise UserError(404, "No such customer: '%s'" % customer,
                            {'code': 'resource_missing', 'param': 'customer'})
        super().__init__()
        self.customer, self.return_url = customer, return_url
        self.url = '%s/_portal/%s' % (base, self.id)


async def create_portal_session(request):
    d = await get_post_data(request) or {}
    d.pop('base', None)
    base = 'http://' + (request.host or '127.0.0.1:8420')
    return web.json_response(BillingPortalSession(base=base, **d)._export())


async def portal_page(request):
    try:
        s = BillingPortalSession._api_retrieve(request.match_info['id'])
    except UserError:
        return web.Response(status=404, text='No such portal session')
    body = ('<!doctype html><title>Billing portal (localstripe)</title>'
            '<h1>Billing portal</h1><p id="customer">%s</p>'
            '<p><a id="return" href="%s">Return</a></p>'
            % (html.escape(s.customer), html.escape(s.return_url, quote=True)))
    return web.Response(text=body, content_type='text/html')


@web.middleware
async def portal_without_key(request, handler):
    # localstripe's auth middleware wants an API key on every path outside /_config/; the
    # hosted page is opened by a browser, which has none.
    if request.method == 'GET' and request.path.startswith('/_portal/'):
        return await portal_page(request)
    return await handler(request)


app.middlewares.insert(0, portal_without_key)
app.router.add_post('/v1/billing_portal/sessions', create_portal_session)
app.router.add_get('/_portal/{id}', portal_page)
