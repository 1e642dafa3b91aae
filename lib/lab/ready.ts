// "Up" means answering from the controller's side, over the lab network, the way hapair
// itself will talk to the nodes; a process merely existing is not enough.
import http from 'node:http'
import net from 'node:net'
import { HapairError } from '../errors.ts'
import type { NodePlan } from './plan.ts'
import { sleep } from './proc.ts'

export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(timeoutMs, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

export function httpGet(host: string, port: number, path = '/', timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = ''
      res
        .setEncoding('utf8')
        .on('data', (d: string) => {
          body += d
        })
        .on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
  })
}

export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > end) throw new HapairError(`lab: ${what} not ready after ${timeoutMs / 1000} s`)
    await sleep(30)
  }
}

/** sshd on every given node, and each service it should run, answer from the controller. */
export async function waitReady(nodes: NodePlan[], withSingletons: (n: NodePlan) => boolean): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      await waitFor(`${n.name} sshd (${n.address}:${n.sshPort})`, () => tcpOpen(n.address, n.sshPort, 500))
      for (const s of n.services) {
        if (s.singleton && !withSingletons(n)) continue
        for (const port of s.http) {
          await waitFor(`${n.name} ${s.name} (http ${n.address}:${port})`, async () => {
            try {
              return (await httpGet(n.address, port, '/', 500)).body === n.name
            } catch {
              return false
            }
          })
        }
        for (const port of s.tcp) await waitFor(`${n.name} ${s.name} (tcp ${n.address}:${port})`, () => tcpOpen(n.address, port, 500))
      }
    }),
  )
}
