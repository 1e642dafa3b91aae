// Health probes from the controller over the protocols a service declares (HTTP, TCP).
// Used by failover's post-check through the floating IP and by verification.
import net from 'node:net'
import http from 'node:http'
import type { HealthCheck } from './inventory/schema.ts'

export interface ProbeResult {
  ok: boolean
  detail: string
  ms: number
}

const expand = (s: string | undefined, node: string) => s?.replaceAll('{node}', node)

export function httpProbe(host: string, check: HealthCheck, expectNode: string): Promise<ProbeResult> {
  const started = Date.now()
  const timeout = check.timeoutMs ?? 2000
  const want = expand(check.expectBody, expectNode)
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${check.port}${check.path ?? '/'}`
  return new Promise((resolve) => {
    const done = (ok: boolean, detail: string) => resolve({ ok, detail, ms: Date.now() - started })
    // agent: false, so every probe opens a fresh connection: a kept-alive socket to the old node would lie.
    const req = http.get(url, { timeout, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => {
        if (body.length < 65536) body += d
      })
      res.on('end', () => {
        const status = check.expectStatus ?? 200
        if (res.statusCode !== status) return done(false, `${url}: HTTP ${res.statusCode}, expected ${status}`)
        if (want !== undefined && !body.includes(want))
          return done(false, `${url}: body ${JSON.stringify(body.slice(0, 40))} does not contain ${JSON.stringify(want)}`)
        done(true, `${url}: HTTP ${res.statusCode}${want !== undefined ? `, body has ${JSON.stringify(want)}` : ''}`)
      })
    })
    req.on('timeout', () => {
      req.destroy()
      done(false, `${url}: no answer within ${timeout} ms`)
    })
    req.on('error', (e: NodeJS.ErrnoException) => done(false, `${url}: ${e.code ?? e.message}`))
  })
}

export function tcpProbe(host: string, check: HealthCheck, expectNode: string): Promise<ProbeResult> {
  const started = Date.now()
  const timeout = check.timeoutMs ?? 2000
  const want = expand(check.expect, expectNode)
  const where = `tcp ${host}:${check.port}`
  return new Promise((resolve) => {
    let settled = false
    let got = ''
    const sock = net.connect({ host, port: check.port!, timeout })
    const done = (ok: boolean, detail: string) => {
      if (settled) return
      settled = true
      sock.destroy()
      resolve({ ok, detail, ms: Date.now() - started })
    }
    sock.on('connect', () => {
      if (check.send !== undefined) sock.write(check.send)
      if (want === undefined) done(true, `${where}: connected`)
    })
    sock.on('data', (d) => {
      got += d.toString('utf8')
      if (want !== undefined && got.includes(want)) done(true, `${where}: answered ${JSON.stringify(got.trim().slice(0, 40))}`)
    })
    sock.on('timeout', () =>
      done(
        false,
        `${where}: ${got ? `answered ${JSON.stringify(got.trim().slice(0, 40))}, expected ${JSON.stringify(want)}` : `no answer within ${timeout} ms`}`,
      ),
    )
    sock.on('error', (e: NodeJS.ErrnoException) => done(false, `${where}: ${e.code ?? e.message}`))
    sock.on('end', () => done(false, `${where}: closed after ${JSON.stringify(got.trim().slice(0, 40))}, expected ${JSON.stringify(want)}`))
  })
}

/** Probes a network check (http/tcp) against host; command checks are not network probes. */
export function probe(host: string, check: HealthCheck, expectNode: string): Promise<ProbeResult> {
  if (check.protocol === 'http') return httpProbe(host, check, expectNode)
  if (check.protocol === 'tcp') return tcpProbe(host, check, expectNode)
  return Promise.resolve({ ok: false, detail: 'command checks run on the node, not through an address', ms: 0 })
}
