import { inspect } from 'node:util'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ApiClient, rateLimitDelayMs, type Clock } from '../../lib/cloud/http.ts'
import { CloudApiError } from '../../lib/cloud/errors.ts'
import { hcloudProfile } from '../../lib/cloud/hcloud.ts'
import { FakeHcloud } from '../helpers/fake-hcloud.ts'

const TOKEN = 'hc-SECRET-token-0123456789abcdef'
let api: FakeHcloud

const clock = () => {
  const sleeps: number[] = []
  const c: Clock & { sleeps: number[] } = {
    sleeps,
    now: () => Date.now(),
    sleep: async (ms) => {
      sleeps.push(ms)
    },
  }
  return c
}
const client = (c: Clock, extra: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}, logs: string[] = []) =>
  new ApiClient({ profile: hcloudProfile, baseUrl: api.url, token: TOKEN, tokenHint: 'HCLOUD_TOKEN', clock: c, log: (l) => logs.push(l), ...extra })

test.before.each(async () => {
  api = await new FakeHcloud(TOKEN).addServer(7, 'a').addFloatingIp(42, '203.0.113.10', 7).start()
})
test.after.each(async () => {
  await api.close()
})

const fail = async (p: Promise<unknown>): Promise<CloudApiError> => {
  try {
    await p
  } catch (e) {
    if (e instanceof CloudApiError) return e
    throw e
  }
  throw new Error('expected a CloudApiError')
}

// Each row: what the fake serves first, how many requests the call makes, the waits it takes, how it ends.
const retryCases: {
  name: string
  setup: () => void
  requests: number
  sleeps: (s: number[]) => boolean
  ok: boolean
  flags?: (e: CloudApiError) => boolean
}[] = [
  {
    name: '423 locked twice, then OK: retried with backoff',
    setup: () => api.inject({ status: 423, body: api.errorBody('locked', 'locked') }, { status: 423, body: api.errorBody('locked', 'locked') }),
    requests: 3,
    sleeps: (s) => s.join() === '500,1000',
    ok: true,
  },
  {
    name: '409 conflict, then OK',
    setup: () => api.inject({ status: 409, body: api.errorBody('conflict', 'changed') }),
    requests: 2,
    sleeps: (s) => s.join() === '500',
    ok: true,
  },
  {
    name: '429 with RateLimit-Reset 3 s ahead: waits about 3 s',
    setup: () => api.rateLimit(1, 3),
    requests: 2,
    sleeps: (s) => s.length === 1 && s[0] > 1000 && s[0] <= 3000,
    ok: true,
  },
  {
    name: '429 with Retry-After: 2',
    setup: () => api.inject({ status: 429, body: api.errorBody('rate_limit_exceeded', 'slow down'), headers: { 'Retry-After': '2' } }),
    requests: 2,
    sleeps: (s) => s.join() === '2000',
    ok: true,
  },
  {
    name: '429 resetting beyond the budget: fails at once',
    setup: () => api.rateLimit(1, 3600),
    requests: 1,
    sleeps: (s) => s.length === 0,
    ok: false,
    flags: (e) => e.rateLimited && e.retriesExhausted,
  },
  {
    name: '503 every time: gives up after maxAttempts',
    setup: () => {
      for (let i = 0; i < 10; i++) api.inject({ status: 503, body: api.errorBody('service_error', 'down') })
    },
    requests: 4,
    sleeps: (s) => s.join() === '500,1000,2000',
    ok: false,
    flags: (e) => e.status === 503 && e.retriesExhausted && e.attempts === 4,
  },
  {
    name: '401: fails at once, says which token',
    setup: () => api.inject({ status: 401, body: api.errorBody('unauthorized', 'unable to authenticate') }),
    requests: 1,
    sleeps: (s) => s.length === 0,
    ok: false,
    flags: (e) => e.unauthorized && !e.transient && /HCLOUD_TOKEN/.test(e.message),
  },
  {
    name: '403: fails at once',
    setup: () => api.inject({ status: 403, body: api.errorBody('forbidden', 'read only token') }),
    requests: 1,
    sleeps: (s) => s.length === 0,
    ok: false,
    flags: (e) => e.forbidden && /read-only/.test(e.message),
  },
  {
    name: '404: fails at once',
    setup: () => api.inject({ status: 404, body: api.errorBody('not_found', 'nope') }),
    requests: 1,
    sleeps: (s) => s.length === 0,
    ok: false,
    flags: (e) => e.notFound && e.code === 'not_found',
  },
]

for (const c of retryCases) {
  test(c.name, async () => {
    c.setup()
    const k = clock()
    const call = client(k, { retry: { maxAttempts: 4 } }).get<{ floating_ip: { server: number } }>('/floating_ips/42')
    if (c.ok) assert.is((await call).floating_ip.server, 7)
    else {
      const e = await fail(call)
      assert.ok(c.flags!(e), `flags of: ${e.message}`)
    }
    assert.is(api.requests.length, c.requests, 'requests made')
    assert.ok(c.sleeps(k.sleeps), `sleeps were ${k.sleeps.join(',')}`)
  })
}

test('a refused connection is retried, then reported as a network error', async () => {
  const url = api.url
  await api.close()
  const k = clock()
  const e = await fail(
    new ApiClient({ profile: hcloudProfile, baseUrl: url, token: TOKEN, clock: k, retry: { maxAttempts: 3 }, log: () => {} }).get('/floating_ips/42'),
  )
  assert.ok(e.network && e.transient && e.retriesExhausted, e.message)
  assert.is(e.attempts, 3)
  assert.is(k.sleeps.join(), '500,1000')
  api = await new FakeHcloud(TOKEN).start() // for after.each
})

test('the token never appears in errors or retry notices, even when the API echoes it', async () => {
  const logs: string[] = []
  const echo = (r: { auth?: string }) => api.errorBody('service_error', `proxy says: Authorization: ${r.auth}`)
  api.inject({ status: 502, body: echo }, { status: 502, body: echo })
  const e = await fail(client(clock(), { retry: { maxAttempts: 2 } }, logs).get('/floating_ips/42'))
  api.echoAuth = true
  const e401 = await fail(
    new ApiClient({ profile: hcloudProfile, baseUrl: api.url, token: TOKEN + 'x', clock: clock(), log: (l) => logs.push(l) }).get('/floating_ips/42'),
  )
  const everything = [e.message, String(e), e.stack, e401.message, JSON.stringify(e), JSON.stringify(e401), ...logs].join('\n')
  assert.ok(/Authorization/.test(everything), 'the echo reached the message (so the test can fail)')
  assert.not.ok(everything.includes(TOKEN), 'token leaked')
  assert.not.ok(everything.includes(TOKEN.slice(3)), 'token leaked in part')
})

test('the token is not visible on the client object', () => {
  const c = client(clock())
  assert.not.ok(JSON.stringify(c).includes(TOKEN))
  assert.not.ok(Object.values(c).some((v) => typeof v === 'string' && v.includes(TOKEN)))
  assert.not.ok(inspect(c, { depth: 5, showHidden: true }).includes(TOKEN), 'inspect shows it')
})

test('rateLimitDelayMs reads Retry-After and RateLimit-Reset', () => {
  const now = 1_700_000_000_000
  const h = (o: Record<string, string>) => new Headers(o)
  assert.is(rateLimitDelayMs(h({ 'Retry-After': '5' }), now), 5000)
  assert.is(rateLimitDelayMs(h({ 'Retry-After': new Date(now + 7000).toUTCString() }), now), 7000)
  assert.is(rateLimitDelayMs(h({ 'RateLimit-Reset': String(now / 1000 + 12) }), now), 12000)
  assert.is(rateLimitDelayMs(h({ 'RateLimit-Reset': '30' }), now), 30000, 'delta seconds (IETF draft)')
  assert.is(rateLimitDelayMs(h({ 'RateLimit-Reset': String(now / 1000 - 5) }), now), 0, 'a reset in the past means now')
  assert.is(rateLimitDelayMs(h({}), now), undefined)
})

test.run()
