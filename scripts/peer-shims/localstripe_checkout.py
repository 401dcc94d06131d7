# Thin, optional extension for localstripe 1.15.x, which has no Prices and no Checkout Sessions.
#   POST /v1/prices                        -> backed by a localstripe Plan (id price_...), returns price-shaped JSON
#   GET  /v1/prices/{id}
#   POST /v1/checkout/sessions             -> stores an open session (mode=subscription|payment)
#   GET  /v1/checkout/sessions/{id}
#   POST /_config/checkout/sessions/{id}/complete   (test hook = "the customer paid on the hosted page")
#        creates customer (if none) + card pm_, then a real localstripe Subscription or PaymentIntent,
#        marks the session complete/paid and emits a signed `checkout.session.completed` webhook
#        through localstripe's own webhook machinery (plus the subscription/invoice events it emits).
#
# Project copy of ../shared/peers/stripe/localstripe_checkout.py (the team's test-peers kit),
# unchanged apart from this note; kept here so a fresh clone runs its tests without the shared
# folder. `scripts/peers start` loads it through run_localstripe.py --with-checkout.
# Import this module BEFORE the aiohttp app starts (routes must be added before the router is frozen).
from aiohttp import web
from localstripe import resources as R
from localstripe.errors import UserError
from localstripe.server import app, get_post_data
from localstripe.webhooks import schedule_webhook


def _price_json(plan):
    return {'id': plan.id, 'object': 'price', 'active': plan.active, 'created': plan.created,
            'currency': plan.currency, 'unit_amount': plan.amount, 'livemode': False,
            'product': plan.product, 'metadata': plan.metadata or {}, 'nickname': plan.nickname,
            'type': 'recurring' if plan.interval else 'one_time',
            'recurring': {'interval': plan.interval, 'interval_count': plan.interval_count,
                          'usage_type': 'licensed'} if plan.interval else None}


async def create_price(request):
    d = await get_post_data(request) or {}
    rec = d.get('recurring') or {}
    plan = R.Plan(id='price_' + R.random_id(14), product=d.get('product'),
                  amount=d.get('unit_amount'), currency=d.get('currency'),
                  interval=rec.get('interval') or 'month',  # localstripe plans always recur
                  interval_count=rec.get('interval_count', 1), metadata=d.get('metadata'),
                  nickname=d.get('nickname'))
    return web.json_response(_price_json(plan))


async def get_price(request):
    return web.json_response(_price_json(R.Plan._api_retrieve(request.match_info['id'])))


class CheckoutSession(R.StripeObject):
    object = 'checkout.session'
    _id_prefix = 'cs_test_'

    def __init__(self, mode=None, line_items=None, success_url=None, cancel_url=None, customer=None,
                 customer_email=None, client_reference_id=None, metadata=None, **kwargs):
        if mode not in ('subscription', 'payment') or not line_items or not success_url:
            raise UserError(400, 'Bad request: mode, line_items and success_url are required')
        for li in line_items:
            R.Plan._api_retrieve(li['price'])  # 404 for unknown prices
        super().__init__()
        self.mode, self.success_url, self.cancel_url = mode, success_url, cancel_url
        self.customer, self.customer_email = customer, customer_email
        self.client_reference_id, self.metadata = client_reference_id, metadata or {}
        self._line_items = [{'price': li['price'], 'quantity': int(li.get('quantity', 1))} for li in line_items]
        self.amount_total = sum(R.Plan._api_retrieve(li['price']).amount * li['quantity'] for li in self._line_items)
        self.currency = R.Plan._api_retrieve(self._line_items[0]['price']).currency
        self.status, self.payment_status = 'open', 'unpaid'
        self.subscription = self.payment_intent = None
        self.url = 'http://127.0.0.1:8420/_checkout/' + self.id  # a real page does not exist


async def create_session(request):
    d = await get_post_data(request) or {}
    return web.json_response(CheckoutSession(**d)._export())


async def get_session(request):
    return web.json_response(CheckoutSession._api_retrieve(request.match_info['id'])._export())


async def complete_session(request):
    s = CheckoutSession._api_retrieve(request.match_info['id'])
    if s.status != 'open':
        raise UserError(400, 'Session is not open')
    if not s.customer:
        s.customer = R.Customer(email=s.customer_email).id
    pm = R.PaymentMethod(type='card', card={'number': '4242424242424242', 'exp_month': '12',
                                            'exp_year': '2034', 'cvc': '123'})
    R.PaymentMethod._api_attach(pm.id, customer=s.customer)
    R.Customer._api_update(s.customer, invoice_settings={'default_payment_method': pm.id})
    if s.mode == 'subscription':
        sub = R.Subscription._api_create(customer=s.customer, metadata=dict(s.metadata),
                                         items=[{'plan': li['price'], 'quantity': str(li['quantity'])}
                                                for li in s._line_items])
        s.subscription = sub.id
    else:
        pi = R.PaymentIntent._api_create(amount=str(s.amount_total), currency=s.currency,
                                         customer=s.customer, payment_method=pm.id, confirm='true')
        s.payment_intent = pi.id
    s.status, s.payment_status = 'complete', 'paid'
    schedule_webhook(R.Event('checkout.session.completed', s))
    return web.json_response(s._export())


app.router.add_post('/v1/prices', create_price)
app.router.add_get('/v1/prices/{id}', get_price)
app.router.add_post('/v1/checkout/sessions', create_session)
app.router.add_get('/v1/checkout/sessions/{id}', get_session)
app.router.add_post('/_config/checkout/sessions/{id}/complete', complete_session)
