// SSH transport: one persistent, host-key-pinned connection per node (and per bastion, ssh.jump) per run.
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2'
import { RemoteError, exitCodeMeaning, type RemoteErrorInit } from './errors.ts'
import { checkHostKey, readKnownHosts } from './known-hosts.ts'
import { sshSettings, type LoadedInventory, type ResolvedHop, type ResolvedSsh } from './inventory/load.ts'
import type { Node, Pair } from './inventory/schema.ts'
import { shJoin } from './shell.ts'
import { readPrivateKey } from './ssh-key.ts'
import { FileRefusedError } from './inventory/read-file.ts'
import { BECOME_PROBE, SFTP_SERVER_DIRS, SFTP_SERVER_SCRIPT, becomeCommand, sudoRefusal } from './become.ts'

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
  /** Sees stderr as it arrives (a node-side meter's lines), besides its place in the result. */
  onStderr?: (d: Buffer) => void
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

/** A command started with NodeSession.stream(): its output arrives through callbacks. */
export interface CommandStream {
  /** Settles when the channel closes: the exit, or a RemoteError when the connection was lost. */
  done: Promise<{ code: number | null; signal: string | null }>
  write(d: string | Buffer): void
  /** Closes the command's stdin. */
  end(): void
  /** Closes the channel. */
  close(): void
}

/** A command is either a vector (each word quoted for the remote shell) or a fixed script the caller wrote. */
export type Command = string[] | { script: string }

/** The command line the node's login shell gets: the command itself, or (ssh.become) the same line run as root. */
export const render = (cmd: Command, become: ResolvedSsh['become'] = 'none') => becomeCommand(Array.isArray(cmd) ? shJoin(cmd) : cmd.script, become)
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

/**
 * Why a handshake (or a forward through a bastion) failed, before it is told as some node's
 * error: a bastion's failure is the failure of every node behind it, each reported as its own.
 */
class Refusal {
  constructor(
    readonly reason: string,
    readonly flags: Omit<RemoteErrorInit, 'node' | 'host'> = {},
  ) {}
}

/** RFC 4254 channel open failure codes, for a bastion that gives no description. */
const OPEN_FAILURE: Record<number, string> = {
  1: 'administratively prohibited',
  2: 'connect failed',
  3: 'unknown channel type',
  4: 'resource shortage',
}

/** A bastion reached the target's port and was refused, or nothing answered: the target's fault, not the bastion's. */
class ForwardFailed {
  constructor(
    readonly why: string,
    readonly timedOut: boolean,
  ) {}
}

interface DialSpec {
  host: string
  port: number
  user: string
  keyFile?: string
  knownHostsFile?: string
  /** Names its known_hosts line may carry besides the address (a node's or a bastion's name). */
  names: string[]
  timeoutMs: number
  role: 'node' | 'bastion'
  /** A channel forwarded by the bastion in front (ssh2 speaks SSH over it as over a socket). */
  sock?: ClientChannel
  /** "through bastion b (addr)", said when nothing answered over that channel. */
  through?: string
  /** The client while it handshakes, so a close() can drop it; undefined once settled. */
  track(c: Client | undefined): void
}

/**
 * One pinned SSH handshake: the host key is checked against known_hosts under the address
 * (and names) on every hop alike, and only the pinned key types are asked for. Rejects with a
 * Refusal, or the inventory's own fault (a key file that is no key) as it is: exit 2.
 */
function dial(d: DialSpec): Promise<Client> {
  const { knownHostsFile, keyFile } = d
  // A channel the bastion opened for a handshake that never starts is closed, not left open there.
  const unused = () => {
    try {
      d.sock?.close()
    } catch {
      /* already gone */
    }
  }
  if (!knownHostsFile) {
    unused()
    return Promise.reject(new Refusal('no knownHostsFile in the inventory: refusing to connect without a pinned host key', { hostKeyMismatch: true }))
  }
  let known: ReturnType<typeof readKnownHosts>
  let privateKey: Buffer | undefined
  try {
    known = readKnownHosts(knownHostsFile, [d.host, ...d.names], d.port)
    privateKey = keyFile ? readPrivateKey(keyFile) : undefined
  } catch (e) {
    unused()
    // A file that is there but is no key (or no regular file) is the inventory's fault: exit 2, before any socket.
    if (e instanceof FileRefusedError && e.code === undefined) return Promise.reject(e)
    return Promise.reject(
      new Refusal(`cannot read ${(e as NodeJS.ErrnoException).path ?? 'ssh files'}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        cause: e,
      }),
    )
  }
  let verdict: ReturnType<typeof checkHostKey> | undefined
  const started = Date.now()
  const config: ConnectConfig = {
    ...(d.sock ? { sock: d.sock } : { host: d.host, port: d.port }),
    username: d.user,
    privateKey,
    agent: privateKey ? undefined : process.env.SSH_AUTH_SOCK,
    // Straight to the key: ssh2 asks "none" first by default, one more round trip per connect
    // that can only fail against a server that wants a key.
    authHandler: [privateKey ? 'publickey' : 'agent'],
    readyTimeout: d.timeoutMs,
    keepaliveInterval: 5000,
    keepaliveCountMax: 2,
    // Ask only for the key types we pinned, so a server with several host keys shows one we can check.
    algorithms: known.keys.length ? { serverHostKey: [...new Set(known.keys.map((k) => k.type))] as any } : undefined,
    hostVerifier: (key: Buffer) => {
      verdict = checkHostKey(known, key)
      return verdict.ok
    },
  }
  return new Promise<Client>((resolve, reject) => {
    const c = new Client()
    d.track(c)
    let settled = false
    c.once('ready', () => {
      if (settled) return
      settled = true
      d.track(undefined)
      resolve(c)
    })
    // `on`, not `once`: ssh2 may emit a second error for one failed handshake (its ready timeout,
    // then "Connection lost before handshake" as the socket goes), and an unheard error kills the process.
    c.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return
      settled = true
      d.track(undefined)
      const durationMs = Date.now() - started
      if (verdict && !verdict.ok) {
        const why =
          verdict.reason === 'unknown'
            ? `host key not pinned: presented ${verdict.presented}, but ${knownHostsFile} has no key for ${d.host}; verify the fingerprint out of band and add it`
            : verdict.reason === 'revoked'
              ? `host key ${verdict.presented} is marked @revoked in ${knownHostsFile}`
              : `HOST KEY MISMATCH: expected ${verdict.expected.join(' or ')}, presented ${verdict.presented} (${knownHostsFile}); refusing to connect: the ${d.role} was rebuilt or something is impersonating it`
        reject(new Refusal(why, { hostKeyMismatch: true, durationMs, cause: err }))
      } else if (err.level === 'client-authentication') {
        reject(new Refusal(`authentication as ${d.user} failed (key ${keyFile ?? 'from ssh-agent'})`, { authFailed: true, durationMs, cause: err }))
      } else {
        // ssh2 marks its own handshake timeout with a level; the kernel's connect timeout has a code.
        const timedOut = err.level === 'client-timeout' || err.code === 'ETIMEDOUT'
        reject(
          new Refusal(`unreachable on port ${d.port}${d.through ? ` through ${d.through}` : ''}: ${err.code ?? err.message}`, {
            unreachable: true,
            timedOut,
            durationMs,
            cause: err,
          }),
        )
      }
      destroyClient(c)
    })
    // A connection lost after the server's banner (a node powering off mid-handshake, or
    // markUnreachable destroying it) is only a 'close' to ssh2, never an error: unsettled, the
    // caller waited forever, and a watcher's re-read with it.
    c.once('close', () => {
      if (settled) return
      settled = true
      d.track(undefined)
      const durationMs = Date.now() - started
      reject(
        new Refusal(`unreachable on port ${d.port}${d.through ? ` through ${d.through}` : ''}: the connection closed during the SSH handshake`, {
          unreachable: true,
          durationMs,
        }),
      )
    })
    c.connect(config)
    // Before the handshake, not after it: the handshake is small request/response exchanges too,
    // and Nagle plus the server's delayed ACK held SERVICE_REQUEST back ~40 ms on every connect
    // (and every later command round trip the same). Node applies it when the socket opens.
    c.setNoDelay(true)
  })
}

/**
 * ssh.become: sudo must let the login user run the shell as root without a password. Asked once
 * per connection, so a missing rule is one clear error naming sudo's cause, never a command's
 * exit 1 that a status check would read as "stopped".
 */
function probeBecome(c: Client, user: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const refuse = (why: string, extra: Refusal['flags'] = {}) =>
      reject(
        new Refusal(
          `sudo -n will not run commands as root for ${user}: ${why}; the node needs the sudoers rule in docs/inventory.md ("${user} ALL=(root) NOPASSWD: /bin/sh")`,
          { becomeFailed: true, command: BECOME_PROBE, ...extra },
        ),
      )
    const timer = setTimeout(() => refuse(`${BECOME_PROBE} gave no answer within ${timeoutMs} ms`, { timedOut: true }), timeoutMs)
    try {
      c.exec(BECOME_PROBE, (err, ch) => {
        if (err) {
          clearTimeout(timer)
          return refuse(`cannot start ${BECOME_PROBE}: ${err.message}`, { cause: err })
        }
        let stderr = ''
        let code: number | null = null
        ch.on('data', () => {})
        ch.stderr.on('data', (d: Buffer) => {
          if (stderr.length < 4096) stderr += d.toString('utf8')
        })
        ch.on('exit', (x: number | null) => {
          code = x
        })
        ch.once('close', () => {
          clearTimeout(timer)
          if (code === 0) return resolve()
          refuse(sudoRefusal(stderr) || `${BECOME_PROBE} exited ${code ?? 'without a status'}`, { exitCode: code, stderr })
        })
        ch.end()
      })
    } catch (e) {
      clearTimeout(timer)
      refuse(`cannot start ${BECOME_PROBE}: ${(e as Error).message}`, { cause: e })
    }
  })
}

/**
 * ssh.become and SFTP: sshd's sftp subsystem would run as the login user, so the SFTP server is
 * started as root over an exec channel instead. ssh2 (pinned) has no public call for that; its
 * sftp() asks for the subsystem through this one protocol method, and what is spoken over the
 * channel afterwards is the same, so on this connection the request becomes an exec.
 */
function sftpOverExec(c: Client): void {
  const proto = (c as unknown as { _protocol?: Record<string, unknown> })._protocol
  if (!proto || typeof proto.subsystem !== 'function' || typeof proto.exec !== 'function')
    throw new Error('this ssh2 has no Protocol.subsystem/exec: SFTP with ssh.become needs the pinned ssh2')
  if (proto.hapairSftpOverExec) return
  const subsystem = proto.subsystem as (chan: number, name: string, wantReply: boolean) => void
  const exec = proto.exec as (chan: number, cmd: string, wantReply: boolean) => void
  proto.subsystem = (chan: number, name: string, wantReply: boolean) =>
    name === 'sftp' ? exec.call(proto, chan, SFTP_SERVER_SCRIPT, wantReply) : subsystem.call(proto, chan, name, wantReply)
  proto.hapairSftpOverExec = true
}

/**
 * One bastion's connection (ssh.jump), shared by every node behind it for the run: pinned like a
 * node's, reached directly or through the bastion before it. Nodes get channels to their sshd
 * from it (direct-tcpip) and speak SSH to their own pinned keys over them.
 */
export class JumpHost {
  private client?: Client
  private connecting?: Promise<Client>
  private handshaking?: Client
  private lastUnreachable?: { at: number; refusal: Refusal }
  /** Handshakes completed: what sharing one connection per bastion is measured by. */
  connects = 0

  constructor(
    readonly hop: ResolvedHop,
    private readonly ssh: { knownHostsFile?: string; connectTimeoutMs: number },
    readonly via?: JumpHost,
  ) {}

  /** "bastion b (198.51.100.4)", or "bastion 198.51.100.4" when it has no name. */
  get description(): string {
    return `bastion ${this.hop.name ? `${this.hop.name} (${this.hop.address})` : this.hop.address}`
  }

  private refusal(reason: string, flags: Refusal['flags']): Refusal {
    return new Refusal(`via ${this.description}: ${reason}`, { ...flags, hop: this.hop.label })
  }

  connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client)
    if (this.connecting) return this.connecting
    const recent = this.lastUnreachable
    if (recent && Date.now() - recent.at < this.ssh.connectTimeoutMs) return Promise.reject(recent.refusal)
    const p = (async () => {
      let sock: ClientChannel | undefined
      if (this.via) {
        try {
          sock = await this.via.forward(this.hop.address, this.hop.port, this.ssh.connectTimeoutMs)
        } catch (e) {
          if (e instanceof ForwardFailed)
            throw this.refusal(`unreachable on port ${this.hop.port} through ${this.via.description}: ${e.why}`, { unreachable: true, timedOut: e.timedOut })
          throw e
        }
      }
      try {
        return await dial({
          host: this.hop.address,
          port: this.hop.port,
          user: this.hop.user,
          keyFile: this.hop.keyFile,
          knownHostsFile: this.ssh.knownHostsFile,
          names: this.hop.name ? [this.hop.name] : [],
          timeoutMs: this.ssh.connectTimeoutMs,
          role: 'bastion',
          sock,
          through: this.via?.description,
          track: (c) => {
            this.handshaking = c
          },
        })
      } catch (e) {
        if (e instanceof Refusal) throw this.refusal(e.reason, e.flags)
        throw e
      }
    })()
    this.connecting = p
    p.then(
      (c) => {
        if (this.connecting === p) this.connecting = undefined
        this.connects++
        this.lastUnreachable = undefined
        this.client = c
        c.on('error', () => {
          this.drop(c)
        })
        c.once('close', () => {
          if (this.client === c) this.client = undefined
        })
      },
      (e) => {
        if (this.connecting === p) this.connecting = undefined
        if (e instanceof Refusal && e.flags.unreachable) this.lastUnreachable = { at: Date.now(), refusal: e }
      },
    )
    return p
  }

  /**
   * A channel from the bastion to host:port. Rejects with a Refusal when the bastion itself
   * fails (or one before it) or will not forward, with ForwardFailed when the bastion is there
   * but the target does not answer it.
   */
  async forward(host: string, port: number, timeoutMs: number): Promise<ClientChannel> {
    const c = await this.connect()
    return new Promise<ClientChannel>((resolve, reject) => {
      let done = false
      // sshd waits on the kernel's connect (minutes for a silent host); the node's connect timeout is ours.
      const timer = setTimeout(() => {
        if (done) return
        done = true
        reject(new ForwardFailed(`no answer within ${timeoutMs} ms`, true))
      }, timeoutMs)
      try {
        c.forwardOut('127.0.0.1', 0, host, port, (err: Error | undefined, ch: ClientChannel) => {
          if (done) {
            // Opened after we gave up: nobody will use it.
            try {
              ch?.close()
            } catch {
              /* already gone */
            }
            return
          }
          done = true
          clearTimeout(timer)
          if (!err) return resolve(ch)
          // The bastion's own connection went while the channel was being opened: the bastion's fault.
          if (this.client !== c) return reject(this.refusal(`connection lost: ${err.message}`, { unreachable: true, cause: err }))
          const code = (err as Error & { reason?: number }).reason ?? 0
          const said = err.message.replace(/^\(SSH\) Channel open failure: /, '').trim()
          // A bastion that forwards nowhere (AllowTcpForwarding no, a PermitOpen list) is the bastion's fault, whatever is behind it.
          if (code === 1) return reject(this.refusal(`does not forward to ${host} port ${port}: ${said || OPEN_FAILURE[1]}`, { unreachable: true, cause: err }))
          reject(new ForwardFailed(said || OPEN_FAILURE[code] || 'the bastion refused the channel', false))
        })
      } catch (e) {
        // ssh2 throws at once when the socket is already gone.
        done = true
        clearTimeout(timer)
        this.drop(c)
        reject(this.refusal(`connection lost: ${(e as Error).message}`, { unreachable: true, cause: e }))
      }
    })
  }

  private drop(c: Client): void {
    if (this.client === c) this.client = undefined
    destroyClient(c)
  }

  /** After the nodes behind it: a polite end, destroyed after a short grace. */
  close(): void {
    const c = this.client
    this.client = undefined
    if (this.handshaking) destroyClient(this.handshaking)
    this.handshaking = undefined
    if (c) endClient(c, false)
  }
}

/**
 * A polite end when the link is known good; a suspect link, or one with writes still queued
 * (the peer stopped reading), is destroyed. Either way the socket no longer holds the process,
 * and it is destroyed after a short grace if it has not closed.
 */
function endClient(c: Client, suspect: boolean): void {
  if (suspect || pendingWrites(c) > 0) return destroyClient(c)
  c.end()
  ;(c as unknown as { _sock?: { unref?(): void } })._sock?.unref?.()
  setTimeout(() => destroyClient(c), CLOSE_GRACE_MS).unref()
}

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

  /** `via`: the last bastion on the way (ssh.jump); the node's own key is still the one checked. */
  constructor(
    readonly node: Node,
    readonly pair: Pair,
    private readonly ssh: ResolvedSsh,
    readonly via?: JumpHost,
  ) {
    this.name = node.name
    this.host = node.address
  }

  private fail(reason: string, extra: Partial<ConstructorParameters<typeof RemoteError>[1]> = {}): RemoteError {
    return new RemoteError(reason, { node: this.name, host: this.host, ...extra })
  }

  private async open(): Promise<Client> {
    let sock: ClientChannel | undefined
    if (this.via) {
      try {
        sock = await this.via.forward(this.host, this.ssh.port, this.ssh.connectTimeoutMs)
      } catch (e) {
        if (e instanceof ForwardFailed)
          throw new Refusal(`unreachable on port ${this.ssh.port} through ${this.via.description}: ${e.why}`, { unreachable: true, timedOut: e.timedOut })
        throw e
      }
    }
    const c = await dial({
      host: this.host,
      port: this.ssh.port,
      user: this.ssh.user,
      keyFile: this.ssh.keyFile,
      knownHostsFile: this.ssh.knownHostsFile,
      names: [this.node.name],
      timeoutMs: this.ssh.connectTimeoutMs,
      role: 'node',
      sock,
      through: this.via?.description,
      track: (c) => {
        this.handshaking = c
      },
    })
    if (this.ssh.become === 'sudo') {
      try {
        await probeBecome(c, this.ssh.user, this.ssh.commandTimeoutMs)
      } catch (e) {
        destroyClient(c)
        throw e
      }
    }
    return c
  }

  private connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client)
    if (this.connecting) return this.connecting
    const recent = this.lastUnreachable
    if (recent && Date.now() - recent.at < this.ssh.connectTimeoutMs) return Promise.reject(recent.error)
    const started = Date.now()
    const p: Promise<Client> = this.open().then(
      (c) => {
        if (this.connecting === p) this.connecting = undefined
        this.lastUnreachable = undefined
        this.client = c
        // A keepalive timeout means the link is gone: drop the socket rather than wait on TCP.
        c.on('error', () => {
          this.drop(c)
        })
        c.once('close', () => {
          if (this.client === c) this.client = undefined
        })
        return c
      },
      (e) => {
        if (this.connecting === p) this.connecting = undefined
        if (!(e instanceof Refusal)) throw e
        const error = this.fail(e.reason, { durationMs: Date.now() - started, ...e.flags })
        if (error.unreachable) this.lastUnreachable = { at: Date.now(), error }
        throw error
      },
    )
    this.connecting = p
    return p
  }

  /** The connection for a command; when sudo (ssh.become) refused, the error names the command that was not run too. */
  private connectFor(command: string): Promise<Client> {
    return this.connect().catch((e: unknown) => {
      if (!(e instanceof RemoteError) || !e.becomeFailed) throw e
      throw this.fail(`${e.reason}; not run: ${short(command)}`, {
        command,
        exitCode: e.remoteExitCode,
        stderr: e.stderr,
        becomeFailed: true,
        timedOut: e.timedOut,
        durationMs: e.durationMs,
        cause: e,
      })
    })
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= CHANNELS_PER_CONNECTION) await new Promise<void>((r) => this.waiting.push(r))
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }

  /**
   * The watcher has just established that this node is gone (its own probes and a survivor's
   * agree): the next connectTimeoutMs of calls fail at once instead of each waiting on a dead
   * link, so a takeover does not pay a timeout per step.
   */
  markUnreachable(reason: string): void {
    const error = this.fail(`unreachable: ${reason}`, { unreachable: true })
    this.lastUnreachable = { at: Date.now(), error }
    if (this.client) {
      this.suspect = true
      this.drop(this.client)
    }
    if (this.handshaking) destroyClient(this.handshaking)
    this.handshaking = undefined
    this.connecting = undefined
  }

  /** Checks that the node answers (connects if needed). */
  async ping(): Promise<void> {
    await this.connect()
  }

  /** Runs a command on the node. Vector commands are quoted word by word. */
  async run(cmd: Command, opts: RunOptions = {}): Promise<RunResult> {
    const command = render(cmd, this.ssh.become)
    const client = await this.connectFor(command)
    const timeoutMs = opts.timeoutMs ?? this.ssh.commandTimeoutMs
    return this.slot(
      () =>
        new Promise<RunResult>((resolve, reject) => {
          // The channel open is a round trip too: on a link that died under a kept connection its
          // answer never comes, and without this bound the caller waited for ssh2's keepalive
          // (10-15 s), the watcher's re-read of the pause and the records with it.
          let opened = false
          const openTimer = setTimeout(() => {
            if (opened) return
            opened = true
            this.suspect = true
            this.drop(client)
            reject(this.fail(`no channel within ${timeoutMs} ms: ${short(command)}`, { command, unreachable: true, timedOut: true }))
          }, timeoutMs)
          try {
            client.exec(command, (err: Error | undefined, stream: ClientChannel) => {
              if (opened) {
                try {
                  stream?.close()
                } catch {
                  /* gone */
                }
                return
              }
              opened = true
              clearTimeout(openTimer)
              if (err) {
                this.client = undefined
                return reject(this.fail(`cannot start command: ${err.message}`, { command, unreachable: true, cause: err }))
              }
              this.collect(client, command, stream, opts, resolve, reject)
            })
          } catch (e) {
            opened = true
            clearTimeout(openTimer)
            // ssh2 throws at once when the socket is already gone.
            this.drop(client)
            reject(this.fail(`connection lost before running: ${short(command)}`, { command, unreachable: true, cause: e }))
          }
        }),
    )
  }

  /** Drops a connection whose link is suspect (timed out, lost): destroyed, never closed politely. */
  private drop(c: Client): void {
    if (this.client === c) this.client = undefined
    destroyClient(c)
  }

  private collect(
    client: Client,
    command: string,
    stream: ClientChannel,
    opts: RunOptions,
    resolve: (r: RunResult) => void,
    reject: (e: RemoteError) => void,
  ): void {
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
      node: this.name,
      host: this.host,
      command,
      code,
      signal,
      // A stopped command's output is dropped, not decoded: it may be the unbounded part.
      stdout: stopped ? '' : Buffer.concat(out).toString(opts.encoding ?? 'utf8'),
      stderr: Buffer.concat(errb).toString('utf8'),
      durationMs: Date.now() - started,
      ok: code === 0 && !stopped,
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
      try {
        stream.signal('KILL')
        stream.close()
      } catch {
        /* the channel is already gone */
      }
      // On a live link the channel closes in milliseconds; one that does not is on a dead link.
      grace = setTimeout(() => {
        this.suspect = true
        this.drop(client)
        settle()
      }, CLOSE_GRACE_MS)
    }
    const timer = setTimeout(() => stop('timeout'), timeoutMs)
    const take = (into: Buffer[]) => (d: Buffer) => {
      if (stopped) return
      bytes += d.length
      if (bytes > maxBytes) return stop('overflow')
      into.push(d)
    }
    stream.on('data', take(out))
    stream.stderr.on('data', (d: Buffer) => {
      take(errb)(d)
      if (!stopped) opts.onStderr?.(d)
    })
    stream.on('exit', (c: number | null, s?: string) => {
      code = c
      signal = s ?? null
    })
    stream.once('close', settle)
    if (opts.input !== undefined) stream.end(opts.input)
    else stream.end()
  }

  /**
   * Starts a long-running command and hands its output over as it arrives (run() buffers it
   * until the end). The channel counts against the connection's channels until it closes; the
   * caller ends it with end() (closes stdin, the polite stop a node-side script can wait for)
   * or close() (the channel itself). `done` settles when the channel closes: the exit code, or
   * a RemoteError when the connection was lost under it.
   */
  async stream(cmd: Command, on: { stdout(d: Buffer): void; stderr?(d: Buffer): void }): Promise<CommandStream> {
    const command = render(cmd, this.ssh.become)
    const client = await this.connectFor(command)
    let release!: () => void
    await new Promise<void>((started) => {
      void this.slot(
        () =>
          new Promise<void>((r) => {
            release = r
            started()
          }),
      )
    })
    return new Promise<CommandStream>((resolve, reject) => {
      const fail = (e: unknown) => {
        release()
        reject(this.fail(`cannot start command: ${(e as Error)?.message ?? e}`, { command, unreachable: true, cause: e }))
      }
      try {
        client.exec(command, (err: Error | undefined, ch: ClientChannel) => {
          if (err) {
            this.client = undefined
            return fail(err)
          }
          let code: number | null = null
          let signal: string | null = null
          let closing = false
          const done = new Promise<{ code: number | null; signal: string | null }>((res, rej) => {
            ch.on('exit', (c: number | null, s?: string) => {
              code = c
              signal = s ?? null
            })
            ch.once('close', () => {
              release()
              // A command always reports its exit or its signal; a channel that closes without either lost its connection.
              if (code === null && signal === null && !closing)
                rej(this.fail(`connection lost while streaming: ${short(command)}`, { command, unreachable: true }))
              else res({ code, signal })
            })
          })
          done.catch(() => {
            /* the caller awaits it when it cares */
          })
          ch.on('data', (d: Buffer) => on.stdout(d))
          ch.stderr.on('data', (d: Buffer) => on.stderr?.(d))
          resolve({
            done,
            write: (d) => {
              try {
                ch.write(d)
              } catch {
                /* the channel is gone */
              }
            },
            end: () => {
              try {
                ch.end()
              } catch {
                /* the channel is gone */
              }
            },
            close: () => {
              closing = true
              try {
                ch.close()
              } catch {
                /* the channel is gone */
              }
            },
          })
        })
      } catch (e) {
        this.drop(client)
        fail(e)
      }
    })
  }

  /** An SFTP session on the same connection (for the sftp sync transport). */
  async sftp(): Promise<SFTPWrapper> {
    const client = await this.connectFor(this.ssh.become === 'sudo' ? SFTP_SERVER_SCRIPT : 'sftp')
    if (this.ssh.become === 'sudo') sftpOverExec(client)
    return new Promise((resolve, reject) =>
      client.sftp((err, s) => {
        if (!err) return resolve(s)
        // The script's own "not found" (its stderr is not kept on an SFTP channel).
        const missing = this.ssh.become === 'sudo' && (err as Error & { code?: number }).code === 127
        reject(this.fail(missing ? `sftp: no sftp-server on this node (${SFTP_SERVER_DIRS}): ${err.message}` : `sftp: ${err.message}`, { cause: err }))
      }),
    )
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
    if (c) endClient(c, this.suspect)
  }
}

/** One session per node, and one connection per bastion, for the duration of a run; close() at the end. */
export class SshPool {
  private sessions = new Map<string, NodeSession>()
  /** By the whole way to them (each hop's user, address, port and key, and the pin file), so nodes behind one bastion share it. */
  private jumps = new Map<string, JumpHost>()
  constructor(private readonly inv: LoadedInventory) {}

  session(pair: Pair, node: Node | string): NodeSession {
    const n = typeof node === 'string' ? pair.nodes.find((x) => x.name === node) : node
    if (!n) throw new Error(`pair ${pair.name} has no node ${String(node)}`)
    const key = `${pair.name}/${n.name}`
    let s = this.sessions.get(key)
    if (!s) {
      const ssh = sshSettings(this.inv, pair, n)
      s = new NodeSession(n, pair, ssh, this.jumpFor(ssh))
      this.sessions.set(key, s)
    }
    return s
  }

  /** The last bastion of the node's ssh.jump (each one before it made or found too); undefined: direct. */
  private jumpFor(ssh: ResolvedSsh): JumpHost | undefined {
    let via: JumpHost | undefined
    let key = `known=${ssh.knownHostsFile ?? ''}`
    for (const h of ssh.jump) {
      key += `\u0000${h.user}@${h.address}:${h.port} key=${h.keyFile ?? ''}`
      let j = this.jumps.get(key)
      if (!j) {
        j = new JumpHost(h, { knownHostsFile: ssh.knownHostsFile, connectTimeoutMs: ssh.connectTimeoutMs }, via)
        this.jumps.set(key, j)
      }
      via = j
    }
    return via
  }

  /** The bastions this pool has connections for, first made first. */
  bastions(): JumpHost[] {
    return [...this.jumps.values()]
  }

  close(): void {
    for (const s of this.sessions.values()) s.close()
    this.sessions.clear()
    // The nodes first (their goodbyes travel through the bastions), then the last hops before the first.
    for (const j of [...this.jumps.values()].reverse()) j.close()
    this.jumps.clear()
  }
}
