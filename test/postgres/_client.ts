// A minimal PostgreSQL client (protocol 3.0, trust authentication, simple queries): the lab's
// writer needs to know exactly which commits the server acknowledged, and a connection it
// controls itself (no pool, no retries behind its back). Used by test/postgres and bench/postgres.
import net from 'node:net'

export interface QueryResult {
  rows: string[][]
  command: string
}

export class PgConn {
  private sock: net.Socket
  private buf = Buffer.alloc(0)
  private waiters: ((m: { type: string; body: Buffer } | Error) => void)[] = []
  private queue: { type: string; body: Buffer }[] = []
  private dead?: Error

  private constructor(sock: net.Socket) {
    this.sock = sock
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d])
      this.parse()
    })
    const fail = (e: Error) => {
      this.dead ??= e
      for (const w of this.waiters.splice(0)) w(this.dead)
    }
    sock.on('error', fail)
    sock.on('close', () => fail(new Error('connection closed')))
  }

  static async connect(o: { host: string; port?: number; user: string; database: string; timeoutMs?: number }): Promise<PgConn> {
    const sock = net.connect({ host: o.host, port: o.port ?? 5432 })
    sock.setNoDelay(true)
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        sock.destroy()
        reject(new Error('connect timeout'))
      }, o.timeoutMs ?? 1000)
      sock.once('connect', () => {
        clearTimeout(t)
        resolve()
      })
      sock.once('error', (e) => {
        clearTimeout(t)
        reject(e)
      })
    })
    const c = new PgConn(sock)
    const params = Buffer.from(`user\0${o.user}\0database\0${o.database}\0application_name\0hapair-test\0\0`)
    const head = Buffer.alloc(8)
    head.writeInt32BE(8 + params.length, 0)
    head.writeInt32BE(196608, 4)
    sock.write(Buffer.concat([head, params]))
    for (;;) {
      const m = await c.next(o.timeoutMs ?? 2000)
      if (m.type === 'E') {
        c.close()
        throw new Error(errorText(m.body))
      }
      if (m.type === 'R' && m.body.readInt32BE(0) !== 0) {
        c.close()
        throw new Error(`authentication method ${m.body.readInt32BE(0)} not supported (trust only)`)
      }
      if (m.type === 'Z') return c
    }
  }

  private parse() {
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1)
      if (this.buf.length < 1 + len) return
      const m = { type: String.fromCharCode(this.buf[0]), body: this.buf.subarray(5, 1 + len) }
      this.buf = this.buf.subarray(1 + len)
      const w = this.waiters.shift()
      if (w) w(m)
      else this.queue.push(m)
    }
  }

  private next(timeoutMs: number): Promise<{ type: string; body: Buffer }> {
    const q = this.queue.shift()
    if (q) return Promise.resolve(q)
    if (this.dead) return Promise.reject(this.dead)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w)
        reject(new Error('query timeout'))
      }, timeoutMs)
      const w = (m: { type: string; body: Buffer } | Error) => {
        clearTimeout(t)
        if (m instanceof Error) reject(m)
        else resolve(m)
      }
      this.waiters.push(w)
    })
  }

  /** One simple query; rejects with the server's error. A timeout leaves the connection unusable. */
  async query(sql: string, timeoutMs = 3000): Promise<QueryResult> {
    const body = Buffer.from(sql + '\0')
    const head = Buffer.alloc(5)
    head.write('Q', 0)
    head.writeInt32BE(4 + body.length, 1)
    this.sock.write(Buffer.concat([head, body]))
    const rows: string[][] = []
    let command = ''
    let error: string | undefined
    for (;;) {
      const m = await this.next(timeoutMs).catch((e) => {
        this.close()
        throw e
      })
      if (m.type === 'D') {
        const n = m.body.readInt16BE(0)
        const row: string[] = []
        let off = 2
        for (let i = 0; i < n; i++) {
          const l = m.body.readInt32BE(off)
          off += 4
          row.push(l < 0 ? '' : m.body.subarray(off, off + l).toString('utf8'))
          off += Math.max(0, l)
        }
        rows.push(row)
      } else if (m.type === 'C') command = m.body.subarray(0, m.body.length - 1).toString()
      else if (m.type === 'E') error = errorText(m.body)
      else if (m.type === 'Z') {
        if (error) throw new Error(error)
        return { rows, command }
      }
    }
  }

  close() {
    this.sock.destroy()
  }
}

function errorText(b: Buffer): string {
  const f: Record<string, string> = {}
  let off = 0
  while (off < b.length && b[off] !== 0) {
    const code = String.fromCharCode(b[off])
    const end = b.indexOf(0, off + 1)
    f[code] = b.subarray(off + 1, end).toString()
    off = end + 1
  }
  return `${f.S ?? 'ERROR'} ${f.C ?? ''}: ${f.M ?? ''}`.trim()
}

/**
 * Writes numbered rows through `host` one at a time, as fast as the server acknowledges, and
 * records every acknowledged commit (CommandComplete, then ReadyForQuery idle) with its time.
 * A row whose answer never came is "unknown": it may or may not be there, and is never retried.
 */
export class Writer {
  acked: { n: number; t: number }[] = []
  unknown: number[] = []
  errors = 0
  private next = 1
  private stopped = false
  private loop?: Promise<void>
  /** connectTimeoutMs: a SYN sent while the address moves is lost; the client retries after this. */
  constructor(private o: { host: string; table: string; pauseMs?: number; connectTimeoutMs?: number }) {}

  start(): this {
    this.loop = this.run()
    return this
  }

  private async run() {
    let c: PgConn | undefined
    while (!this.stopped) {
      try {
        c ??= await PgConn.connect({ host: this.o.host, user: 'app', database: 'app', timeoutMs: this.o.connectTimeoutMs ?? 200 })
        const n = this.next++
        try {
          await c.query(`insert into ${this.o.table} (n) values (${n})`, 5000)
          this.acked.push({ n, t: Date.now() })
        } catch (e) {
          this.errors++
          // A server error is a refusal (read-only standby, shutting down): the row is not there. A lost answer is unknown.
          if (!/^(ERROR|FATAL|PANIC) /.test((e as Error).message)) {
            this.unknown.push(n)
            c.close()
            c = undefined
          } else if (/^(FATAL|PANIC) /.test((e as Error).message)) {
            c.close()
            c = undefined
          }
        }
      } catch {
        this.errors++
        c?.close()
        c = undefined
      }
      await new Promise((r) => setTimeout(r, this.o.pauseMs ?? 5))
    }
    c?.close()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
  }

  /** The longest time between two acknowledged commits within [from, to]: the write unavailability. */
  gap(from: number, to: number): number {
    const ts = this.acked.map((a) => a.t).filter((t) => t >= from - 2000 && t <= to + 5000)
    let best = 0
    for (let i = 1; i < ts.length; i++) if (ts[i] >= from && ts[i - 1] <= to) best = Math.max(best, ts[i] - ts[i - 1])
    return best
  }
}
