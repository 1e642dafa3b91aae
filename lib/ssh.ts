// SSH transport: one persistent, host-key-pinned connection per node per run.
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2'
import { RemoteError, exitCodeMeaning } from './errors.ts'
import { checkHostKey, readKnownHosts } from './known-hosts.ts'
import { sshSettings, type LoadedInventory, type ResolvedSsh } from './inventory/load.ts'
import type { Node, Pair } from './inventory/schema.ts'
import { shJoin } from './shell.ts'
import { readPrivateKey } from './ssh-key.ts'
import { FileRefusedError } from './inventory/read-file.ts'

export interface RunOptions {
  /** Fails the call (RemoteError) on a non-zero exit; default true. */
  check?: boolean
  timeoutMs?: number
  /** Written to the command's stdin, then stdin is closed. */
  input?: string | Buffer
  /** Captured stdout plus stderr beyond this fails the command (default 64 MiB): a huge remote output never becomes one unbounded string. */
  maxBytes?: number
  /** How stdout is decoded; 'latin1' keeps one character per byte, for callers that count bytes. */
  encoding?: 'utf8' | 'latin1'
}

export interface RunResult {
  node: string
  host: string
  command: string
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  durationMs: number
  ok: boolean
}

/** A command is either a vector (each word quoted for the remote shell) or a fixed script the caller wrote. */
export type Command = string[] | { script: string }

const render = (cmd: Command) => (Array.isArray(cmd) ? shJoin(cmd) : cmd.script)
const short = (s: string, n = 160) => (s.length > n ? s.slice(0, n - 3) + '...' : s)
const lastLine = (s: string) => s.trim().split('\n').pop() ?? ''

/** Channels opened at once on one connection: OpenSSH's default MaxSessions is 10. */
const CHANNELS_PER_CONNECTION = 8
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
/** How long a polite close (or a killed command's channel) may take before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000

/**
 * Drops the connection at once. ssh2's destroy() skips a socket that is no longer writable
 * (already end()ed), and a graceful close on a dead link sits in FIN-WAIT-1 for TCP's whole
 * retry period (~15 min) holding the process alive, so the raw socket is destroyed too.
 */
function destroyClient(c: Client): void {
  c.destroy()
  ;(c as unknown as { _sock?: { destroy(): void } })._sock?.destroy()
}
const pendingWrites = (c: Client) => (c as unknown as { _sock?: { writableLength?: number } })._sock?.writableLength ?? 0

export class NodeSession {
  readonly name: string
  readonly host: string
  private client?: Client
  private connecting?: Promise<Client>
  /** The client still handshaking, so close() can drop it too. */
  private handshaking?: Client
  /** A command timed out on this connection without its channel closing: the link is suspect. */
  private suspect = false
  private active = 0
  private waiting: (() => void)[] = []
  /** A node that just timed out is not asked again at once: one run pays the timeout once, not per step. */
  private lastUnreachable?: { at: number; error: RemoteError }

  constructor(readonly node: Node, readonly pair: Pair, private readonly ssh: ResolvedSsh) {
    this.name = node.name
    this.host = node.address
  }

  private fail(reason: string, extra: Partial<ConstructorParameters<typeof RemoteError>[1]> = {}): RemoteError {
    return new RemoteError(reason, { node: this.name, host: this.host, ...extra })
  }

  private connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client)
    if (this.connecting) return this.connecting
    const recent = this.lastUnreachable
    if (recent && Date.now() - recent.at < this.ssh.connectTimeoutMs) return Promise.reject(recent.error)
    const { knownHostsFile, keyFile } = this.ssh
    if (!knownHostsFile) return Promise.reject(this.fail('no knownHostsFile in the inventory: refusing to connect without a pinned host key', { hostKeyMismatch: true }))
    let known: ReturnType<typeof readKnownHosts>
    let privateKey: Buffer | undefined
    try {
      known = readKnownHosts(knownHostsFile, [this.host, this.node.name], this.ssh.port)
      privateKey = keyFile ? readPrivateKey(keyFile) : undefined
    } catch (e) {
      // A file that is there but is no key (or no regular file) is the inventory's fault: exit 2, before any socket.
      if (e instanceof FileRefusedError && e.code === undefined) return Promise.reject(e)
      return Promise.reject(this.fail(`cannot read ${(e as NodeJS.ErrnoException).path ?? 'ssh files'}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e }))
    }
    let verdict: ReturnType<typeof checkHostKey> | undefined
    const started = Date.now()
    const config: ConnectConfig = {
      host: this.host,
      port: this.ssh.port,
      username: this.ssh.user,
      privateKey,
      agent: privateKey ? undefined : process.env.SSH_AUTH_SOCK,
      readyTimeout: this.ssh.connectTimeoutMs,
      keepaliveInterval: 5000,
      keepaliveCountMax: 2,
      // Ask only for the key types we pinned, so a server with several host keys shows one we can check.
      algorithms: known.keys.length ? { serverHostKey: [...new Set(known.keys.map((k) => k.type))] as any } : undefined,
      hostVerifier: (key: Buffer) => {
        verdict = checkHostKey(known, key)
        return verdict.ok
      },
    }
    this.connecting = new Promise<Client>((resolve, reject) => {
      const c = new Client()
      this.handshaking = c
      c.once('ready', () => {
        this.handshaking = undefined
        this.lastUnreachable = undefined
        // Commands are small request/response exchanges: Nagle plus delayed ACKs would add
        // ~40 ms to each round trip, several times per failover step.
        c.setNoDelay(true)
        this.client = c
        this.connecting = undefined
        // A keepalive timeout means the link is gone: drop the socket rather than wait on TCP.
        c.on('error', () => { this.drop(c) })
        c.once('close', () => { if (this.client === c) this.client = undefined })
        resolve(c)
      })
      c.once('error', (err: Error & { level?: string; code?: string }) => {
        this.connecting = undefined
        this.handshaking = undefined
        const durationMs = Date.now() - started
        if (verdict && !verdict.ok) {
          const why = verdict.reason === 'unknown'
            ? `host key not pinned: presented ${verdict.presented}, but ${knownHostsFile} has no key for ${this.host}; verify the fingerprint out of band and add it`
            : verdict.reason === 'revoked'
              ? `host key ${verdict.presented} is marked @revoked in ${knownHostsFile}`
              : `HOST KEY MISMATCH: expected ${verdict.expected.join(' or ')}, presented ${verdict.presented} (${knownHostsFile}); refusing to connect: the node was rebuilt or something is impersonating it`
          reject(this.fail(why, { hostKeyMismatch: true, durationMs, cause: err }))
        } else if (err.level === 'client-authentication') {
          reject(this.fail(`authentication as ${this.ssh.user} failed (key ${keyFile ?? 'from ssh-agent'})`, { authFailed: true, durationMs, cause: err }))
        } else {
          // ssh2 marks its own handshake timeout with a level; the kernel's connect timeout has a code.
          const timedOut = err.level === 'client-timeout' || err.code === 'ETIMEDOUT'
          const error = this.fail(`unreachable on port ${this.ssh.port}: ${err.code ?? err.message}`, { unreachable: true, timedOut, durationMs, cause: err })
          this.lastUnreachable = { at: Date.now(), error }
          reject(error)
        }
        destroyClient(c)
      })
      c.connect(config)
    })
    return this.connecting
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= CHANNELS_PER_CONNECTION) await new Promise<void>((r) => this.waiting.push(r))
    this.active++
    try { return await fn() } finally { this.active--; this.waiting.shift()?.() }
  }

  /** Checks that the node answers (connects if needed). */
  async ping(): Promise<void> { await this.connect() }

  /** Runs a command on the node. Vector commands are quoted word by word. */
  async run(cmd: Command, opts: RunOptions = {}): Promise<RunResult> {
    const command = render(cmd)
    const client = await this.connect()
    return this.slot(() => new Promise<RunResult>((resolve, reject) => {
      try {
        client.exec(command, (err: Error | undefined, stream: ClientChannel) => {
          if (err) {
            this.client = undefined
            return reject(this.fail(`cannot start command: ${err.message}`, { command, unreachable: true, cause: err }))
          }
          this.collect(client, command, stream, opts, resolve, reject)
        })
      } catch (e) {
        // ssh2 throws at once when the socket is already gone.
        this.drop(client)
        reject(this.fail(`connection lost before running: ${short(command)}`, { command, unreachable: true, cause: e }))
      }
    }))
  }

  /** Drops a connection whose link is suspect (timed out, lost): destroyed, never closed politely. */
  private drop(c: Client): void {
    if (this.client === c) this.client = undefined
    destroyClient(c)
  }

  private collect(client: Client, command: string, stream: ClientChannel, opts: RunOptions, resolve: (r: RunResult) => void, reject: (e: RemoteError) => void): void {
    const started = Date.now()
    const timeoutMs = opts.timeoutMs ?? this.ssh.commandTimeoutMs
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    const out: Buffer[] = []
    const errb: Buffer[] = []
    let bytes = 0
    let code: number | null = null
    let signal: string | null = null
    let stopped: 'timeout' | 'overflow' | undefined
    let grace: NodeJS.Timeout | undefined
    const result = (): RunResult => ({
      node: this.name, host: this.host, command, code, signal,
      // A stopped command's output is dropped, not decoded: it may be the unbounded part.
      stdout: stopped ? '' : Buffer.concat(out).toString(opts.encoding ?? 'utf8'), stderr: Buffer.concat(errb).toString('utf8'),
      durationMs: Date.now() - started, ok: code === 0 && !stopped,
    })
    let done = false
    const settle = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearTimeout(grace)
      const r = result()
      if (stopped === 'timeout') return reject(this.fail(`timed out after ${timeoutMs} ms: ${short(command)}`, { ...r, exitCode: code, timedOut: true }))
      if (stopped === 'overflow') return reject(this.fail(`output over ${maxBytes} bytes, stopped: ${short(command)}`, { ...r, exitCode: code }))
      if (code === null && signal === null && !this.client) {
        return reject(this.fail(`connection lost while running: ${short(command)}`, { ...r, exitCode: null, unreachable: true }))
      }
      if (!r.ok && opts.check !== false) {
        const why = signal ? `killed by ${signal}` : `exit ${code} (${exitCodeMeaning(code)})`
        return reject(this.fail(`${why}: ${short(command)}${r.stderr.trim() ? `: ${short(lastLine(r.stderr))}` : ''}`, { ...r, exitCode: code }))
      }
      resolve(r)
    }
    const stop = (why: 'timeout' | 'overflow') => {
      if (stopped) return
      stopped = why
      try { stream.signal('KILL'); stream.close() } catch { /* the channel is already gone */ }
      // On a live link the channel closes in milliseconds; one that does not is on a dead link.
      grace = setTimeout(() => { this.suspect = true; this.drop(client); settle() }, CLOSE_GRACE_MS)
    }
    const timer = setTimeout(() => stop('timeout'), timeoutMs)
    const take = (into: Buffer[]) => (d: Buffer) => {
      if (stopped) return
      bytes += d.length
      if (bytes > maxBytes) return stop('overflow')
      into.push(d)
    }
    stream.on('data', take(out))
    stream.stderr.on('data', take(errb))
    stream.on('exit', (c: number | null, s?: string) => { code = c; signal = s ?? null })
    stream.once('close', settle)
    if (opts.input !== undefined) stream.end(opts.input)
    else stream.end()
  }

  /** An SFTP session on the same connection (for the sftp sync transport). */
  async sftp(): Promise<SFTPWrapper> {
    const client = await this.connect()
    return new Promise((resolve, reject) => client.sftp((err, s) => (err ? reject(this.fail(`sftp: ${err.message}`, { cause: err })) : resolve(s))))
  }

  /**
   * Ends the connection politely when the link is known good; a suspect link, or one with
   * writes still queued (the peer stopped reading), is destroyed. Either way the socket no
   * longer holds the process, and it is destroyed after a short grace if it has not closed.
   */
  close(): void {
    const c = this.client
    this.client = undefined
    if (this.handshaking) destroyClient(this.handshaking)
    this.handshaking = undefined
    if (!c) return
    if (this.suspect || pendingWrites(c) > 0) return destroyClient(c)
    c.end()
    ;(c as unknown as { _sock?: { unref?(): void } })._sock?.unref?.()
    setTimeout(() => destroyClient(c), CLOSE_GRACE_MS).unref()
  }
}

/** One session per node for the duration of a run; close() at the end. */
export class SshPool {
  private sessions = new Map<string, NodeSession>()
  constructor(private readonly inv: LoadedInventory) {}

  session(pair: Pair, node: Node | string): NodeSession {
    const n = typeof node === 'string' ? pair.nodes.find((x) => x.name === node) : node
    if (!n) throw new Error(`pair ${pair.name} has no node ${String(node)}`)
    const key = `${pair.name}/${n.name}`
    let s = this.sessions.get(key)
    if (!s) {
      s = new NodeSession(n, pair, sshSettings(this.inv, pair, n))
      this.sessions.set(key, s)
    }
    return s
  }

  close(): void {
    for (const s of this.sessions.values()) s.close()
    this.sessions.clear()
  }
}
