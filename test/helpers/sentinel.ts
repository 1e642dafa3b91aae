// Loopback TCP listeners that stand in for a pair's nodes: they count every connection and
// answer none. A test that says "nothing reached a node" asserts `contacts` is 0, beside a
// control run that does connect, so the sentinel is shown able to see a contact.
import { createServer, type Server } from 'node:net'

export interface Sentinel {
  /** One port, the same on every host. */
  port: number
  hosts: string[]
  /** Connections accepted so far, on any host. */
  contacts: number
  close(): Promise<void>
}

export async function startSentinel(hosts: string[] = ['127.0.0.2', '127.0.0.3']): Promise<Sentinel> {
  const servers: Server[] = []
  const s: Sentinel = {
    port: 0,
    hosts,
    contacts: 0,
    close: () => Promise.all(servers.map((x) => new Promise<void>((r) => x.close(() => r())))).then(() => {}),
  }
  for (const host of hosts) {
    const server = createServer((c) => {
      s.contacts++
      c.destroy()
    })
    servers.push(server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(s.port, host, () => resolve())
    })
    s.port = (server.address() as { port: number }).port
  }
  return s
}
