/**
 * Sample input for the rule playground: spans and log records shaped like the ones the OTel JS SDK
 * sends for the demo shop (HTTP server spans with `http.route`, `url.path`, `url.query`, identity
 * and consent attributes; event log records), as OTLP/JSON. Synthetic values only: documentation IP
 * ranges (RFC 5737), `example.com` addresses, test card numbers.
 */

export interface PlaygroundSample {
  id: string;
  title: string;
  /** OTLP/JSON: `{ resource, spans }` or `{ resource, logRecords }`, pretty-printed. */
  json: string;
}

const resource = {
  attributes: [
    { key: 'service.name', value: { stringValue: 'shop-web' } },
    { key: 'service.version', value: { stringValue: '1.4.2' } },
    { key: 'deployment.environment.name', value: { stringValue: 'staging' } },
  ],
};

type Attr = [string, string | number | boolean];
const attrs = (list: Attr[]) =>
  list.map(([key, v]) => ({
    key,
    value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v },
  }));

const visitor: Attr[] = [
  ['client.address', '203.0.113.7'],
  ['user_agent.original', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0'],
  ['enduser.id', 'u-1001'],
  ['session.id', 's-9f2c1a7e'],
  ['consent.analytics', true],
];

function serverSpan(id: string, method: string, route: string, path: string, status: number, extra: Attr[] = [], query?: string, who: Attr[] = visitor) {
  return {
    traceId: `5b8efff798038103d269b633813fc6${id}`,
    spanId: `eee19b7ec3c1b1${id}`,
    name: `${method} ${route}`,
    kind: 2,
    startTimeUnixNano: '1767225600000000000',
    endTimeUnixNano: '1767225600042000000',
    attributes: attrs([
      ['http.request.method', method],
      ['http.route', route],
      ['url.path', path],
      ...(query ? ([['url.query', query]] as Attr[]) : []),
      ['http.response.status_code', status],
      ...who,
      ...extra,
    ]),
    status: {},
  };
}

const pretty = (o: unknown) => JSON.stringify(o, null, 2);

export const PLAYGROUND_SAMPLES: readonly PlaygroundSample[] = Object.freeze([
  {
    id: 'product-page',
    title: 'Span: GET /pdp/:slug (product page)',
    json: pretty({ resource, spans: [serverSpan('01', 'GET', '/pdp/:slug', '/pdp/t-shirt-print-schwarz-trq22o064-q11.html', 200)] }),
  },
  {
    id: 'search-email',
    title: 'Span: GET /search with an e-mail address as the search term',
    json: pretty({ resource, spans: [serverSpan('02', 'GET', '/search', '/search', 200, [], 'q=jane.doe%40example.com')] }),
  },
  {
    id: 'add-to-cart',
    title: 'Span: POST /cart (add to cart)',
    json: pretty({ resource, spans: [serverSpan('03', 'POST', '/cart', '/cart', 201, [['cart.sku', 'AD115O0K2-A11'], ['cart.quantity', 2]])] }),
  },
  {
    id: 'checkout-no-consent',
    title: 'Span: POST /checkout without analytics consent',
    json: pretty({
      resource,
      spans: [
        serverSpan(
          '04',
          'POST',
          '/checkout',
          '/checkout',
          200,
          [
            ['order.id', 'o-77812'],
            ['order.amount', 59.9],
            ['currency', 'EUR'],
            ['payment.card', '4111 1111 1111 1111'],
          ],
          undefined,
          [
            ['client.address', '198.51.100.23'],
            ['enduser.id', 'u-1002'],
            ['consent.analytics', false],
          ],
        ),
      ],
    }),
  },
  {
    id: 'signup-log',
    title: 'Log record: user.signed_up event with an e-mail address',
    json: pretty({
      resource,
      logRecords: [
        {
          timeUnixNano: '1767225601000000000',
          severityNumber: 9,
          severityText: 'INFO',
          eventName: 'user.signed_up',
          body: { stringValue: 'new account for jane.doe@example.com' },
          attributes: attrs([
            ['enduser.id', 'u-1003'],
            ['user.email', 'jane.doe@example.com'],
            ['signup.method', 'email'],
            ['consent.analytics', true],
          ]),
          traceId: '5b8efff798038103d269b633813fc605',
          spanId: 'eee19b7ec3c1b105',
        },
      ],
    }),
  },
]);
