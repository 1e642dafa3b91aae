// Pinning a node's host key everywhere hapair keeps it, from a fingerprint the operator read on
// the node's console: the controller's known_hosts and every peer's node-to-node file, in one go.
// The key the node presents is only compared with that fingerprint; a mismatch writes nothing.
import { createHash } from 'node:crypto'
import { audit, type AuditResult } from './audit.ts'
import { HapairError, InputError, RefusedError } from './errors.ts'
import { scanHostKeys, type PresentedKey, type ScanTarget } from './host-key-scan.ts'
import { sshSettings, type LoadedInventory } from './inventory/load.ts'
import { decodeUtf8, MAX_BYTES } from './inventory/read-file.ts'
import type { Node, Pair } from './inventory/schema.ts'
import { fingerprint, hostField, parseKnownHosts } from './known-hosts.ts'
import { hostFieldsFor, pinnedLines, readIfPresent, replaceHostEntries, writeFileAtomic, type PinnedLine } from './known-hosts-edit.ts'
import { sh } from './shell.ts'
import type { NodeSession, SshPool } from './ssh.ts'
import { comparePins, hostKeyAlias } from './sync/pin.ts'

/** A refusal that names what the node presented, for --json. */
export class HostKeyRefusedError extends RefusedError {
  constructor(
    message: string,
    readonly presented: { type: string; fingerprint: string }[],
  ) {
    super(message)
  }
}

export type FileState = 'updated' | 'already pinned' | 'would update' | 'not updated' | 'skipped'
export interface PinFile {
  /** "controller", or the node whose node-to-node file it is. */
  where: string
  file: string
  state: FileState
  /** Why not updated, or skipped. */
  reason?: string
  /** The lines taken out (host, type, fingerprint), one per line touched. */
  replaced: string[]
  /** The file is pinned now, but the sync would still refuse it (pin.ts): what stands in the way. */
  warnings: string[]
}
export interface PinResult {
  pair: string
  node: string
  address: string
  port: number
  fingerprint: string
  key: { type: string; fingerprint: string }
  presented: { type: string; fingerprint: string }[]
  dryRun: boolean
  /** Every file already held exactly this pin: nothing was (or would be) changed. */
  alreadyPinned: boolean
  ok: boolean
  files: PinFile[]
  audit?: AuditResult
}

export interface PinOptions {
  /** Already checked with parseFingerprint. */
  fingerprint: string
  dryRun?: boolean
  /** Tests can stand a scanner in; default: scanHostKeys. */
  scan?: (t: ScanTarget) => Promise<PresentedKey[]>
}

const sha256 = (b: Buffer | undefined) => (b === undefined ? 'absent' : createHash('sha256').update(b).digest('hex'))
const shown = (k: { type: string; fingerprint: string }) => `${k.type} ${k.fingerprint}`

/** "host type SHA256:…" for a known_hosts line, for reports (no key material beyond the fingerprint). */
function describe(raw: string): string {
  const parts = raw.trim().split(/\s+/)
  const marker = parts[0]?.startsWith('@') ? parts.shift() + ' ' : ''
  const [hosts = '', type = '?', b64 = ''] = parts
  const fp = /^[A-Za-z0-9+/]+={0,2}$/.test(b64) ? fingerprint(Buffer.from(b64, 'base64')) : '(no key)'
  return `${marker}${hosts.startsWith('|') ? '(hashed)' : hosts} ${type} ${fp}`
}

/** The literal host fields hapair may have written for the nodes of the inventory other than `target` (pin.ts's view). */
function otherHosts(inv: LoadedInventory, target: Node): string[] {
  return inv.data.pairs.flatMap((p) => p.nodes.filter((n) => n !== target).flatMap((n) => hostFieldsFor([n.address], sshSettings(inv, p, n).port)))
}

interface RemoteFile {
  bytes: Buffer | undefined
  text: string
}

async function readRemote(s: NodeSession, file: string): Promise<RemoteFile> {
  const r = await s.run(
    { script: sh`if [ -e ${file} ]; then echo present; exec cat -- ${file}; else echo absent; fi` },
    { encoding: 'latin1', maxBytes: MAX_BYTES.knownHosts },
  )
  const nl = r.stdout.indexOf('\n')
  if (r.stdout.slice(0, nl) === 'absent') return { bytes: undefined, text: '' }
  const bytes = Buffer.from(r.stdout.slice(nl + 1), 'latin1')
  return { bytes, text: decodeUtf8(bytes, `${s.name}:${file}`) }
}

/**
 * Replaces the node's file by rename, unless it changed since it was read (exit 75: nothing
 * written). mktemp beside it keeps the rename on one file system; the mode is kept.
 */
async function writeRemote(s: NodeSession, file: string, text: string, before: Buffer | undefined): Promise<void> {
  await s.run(
    {
      script: sh`f=${file}; want=${sha256(before)}
command -v sha256sum >/dev/null 2>&1 || { echo "sha256sum not found on the node" >&2; exit 1; }
[ -L "$f" ] && f=$(readlink -f "$f")
if [ -e "$f" ]; then cur=$(sha256sum < "$f" | cut -d ' ' -f 1) || exit 1; mode=$(stat -c %a "$f") || exit 1; else cur=absent; mode=644; fi
[ "$cur" = "$want" ] || { echo "$f changed since it was read (another writer?): not overwritten; run again" >&2; exit 75; }
(umask 077; mkdir -p "$(dirname "$f")") || exit 1
tmp=$(mktemp "$f.hapair.XXXXXX") || exit 1
if cat > "$tmp" && chmod "$mode" "$tmp" && mv -f "$tmp" "$f"; then exit 0; fi
rm -f "$tmp"; exit 1`,
    },
    { input: text },
  )
}

const why = (e: unknown) => {
  if (e instanceof HapairError) return e.message
  const err = e as NodeJS.ErrnoException
  return err?.code ? `${err.path ?? ''}: ${err.code}` : String(err?.message ?? e)
}

interface PeerPlan {
  peer: Node
  file: PinFile
  read?: RemoteFile
  text?: string
}

/**
 * Checks what the node presents against `o.fingerprint` (HostKeyRefusedError, exit 3, with
 * nothing written, when no presented key has it), then replaces the node's entry in the
 * controller's known_hosts and, over the pinned sessions, in every other node's
 * sync.nodeKnownHostsFile under the sync hop's alias. A peer that cannot be read or written is
 * reported in `files` and makes `ok` false; the others are still updated.
 */
export async function pinHostKey(inv: LoadedInventory, pair: Pair, node: Node, pool: SshPool, o: PinOptions): Promise<PinResult> {
  const ssh = sshSettings(inv, pair, node)
  const controllerFile = ssh.knownHostsFile
  if (!controllerFile) {
    const pi = inv.data.pairs.indexOf(pair)
    const at = `pairs/${pi}/nodes/${pair.nodes.indexOf(node)}/ssh/knownHostsFile`
    throw new InputError(
      `${inv.file}: ${at}: not set (nor defaults/ssh/knownHostsFile or pairs/${pi}/ssh/knownHostsFile): the controller has no known_hosts to pin ${node.name}'s key in`,
    )
  }
  const presentedKeys = await (o.scan ?? scanHostKeys)({ node: node.name, host: node.address, port: ssh.port, user: ssh.user, timeoutMs: ssh.connectTimeoutMs })
  const presented = presentedKeys.map((k) => ({ type: k.type, fingerprint: k.fingerprint }))
  const key = presentedKeys.find((k) => k.fingerprint === o.fingerprint)
  const where = `${node.name} (${node.address} port ${ssh.port})`
  if (!key) {
    throw new HostKeyRefusedError(
      `HOST KEY MISMATCH: ${where} presents ${presented.map(shown).join(', ')}, but the fingerprint given is ${o.fingerprint}: refusing to pin; nothing was written. ` +
        `Read the fingerprint again on ${node.name}'s console (ssh-keygen -lf on its host key); if it still differs, something other than ${node.name} answers at ${node.address}`,
      presented,
    )
  }
  const keyText = `${key.type} ${key.blob.toString('base64')}`

  const before = readIfPresent(controllerFile)
  const text = before === undefined ? '' : decodeUtf8(before, `knownHostsFile ${controllerFile}`)
  const revoked = parseKnownHosts(text, [node.address, node.name], ssh.port).revoked.some((r) => r.blob.equals(key.blob))
  if (revoked)
    throw new HostKeyRefusedError(
      `${where} presents ${shown(key)}, which ${controllerFile} marks @revoked: refusing to pin a revoked key; nothing was written (remove the @revoked line first if the revocation was a mistake)`,
      presented,
    )
  const ctl = replaceHostEntries(text, hostFieldsFor([node.address, node.name], ssh.port), [`${hostField(node.address, ssh.port)} ${keyText}`], {
    keepRevoked: true,
  })
  const controller: PinFile = {
    where: 'controller',
    file: controllerFile,
    state: ctl.changed ? (o.dryRun ? 'would update' : 'updated') : 'already pinned',
    replaced: ctl.changed ? ctl.removed.map(describe) : [],
    warnings: [],
  }

  const nodeFile = pair.sync?.nodeKnownHostsFile
  const alias = hostKeyAlias(pair, node)
  const fields = [alias, ...hostFieldsFor([node.address, node.name], ssh.port)]
  const peers: PeerPlan[] = await Promise.all(
    pair.nodes
      .filter((n) => n !== node)
      .map(async (peer): Promise<PeerPlan> => {
        const file: PinFile = { where: peer.name, file: nodeFile ?? '', state: 'skipped', replaced: [], warnings: [] }
        if (!nodeFile) return { peer, file: { ...file, reason: `pair ${pair.name} has no sync.nodeKnownHostsFile: no node-to-node pin to update` } }
        try {
          const read = await readRemote(pool.session(pair, peer), nodeFile)
          const edit = replaceHostEntries(read.text, fields, [`${alias} ${keyText}`], { keepRevoked: false })
          const verdict = comparePins(
            edit.text,
            [{ type: key.type, blob: key.blob }],
            { name: node.name, address: node.address, port: ssh.port, alias },
            { file: nodeFile, source: peer.name, others: otherHosts(inv, node) },
          )
          if (verdict.state === 'conflict') file.warnings.push(verdict.reason)
          file.state = edit.changed ? (o.dryRun ? 'would update' : 'updated') : 'already pinned'
          file.replaced = edit.changed ? edit.removed.map(describe) : []
          return { peer, file, read, text: edit.changed ? edit.text : undefined }
        } catch (e) {
          if (!(e instanceof HapairError)) throw e
          return { peer, file: { ...file, state: 'not updated', reason: `cannot read it: ${e.message}` } }
        }
      }),
  )

  if (!o.dryRun) {
    let controllerWritten = true
    if (ctl.changed) {
      try {
        writeFileAtomic(controllerFile, ctl.text, before)
      } catch (e) {
        controllerWritten = false
        Object.assign(controller, { state: 'not updated', reason: why(e), replaced: [] })
      }
    }
    await Promise.all(
      peers.map(async (p) => {
        if (p.text === undefined || !p.read) return
        // The peers' pins are the controller's, copied: never ahead of it.
        if (!controllerWritten)
          return Object.assign(p.file, { state: 'not updated', reason: `the controller's ${controllerFile} was not updated`, replaced: [] })
        try {
          await writeRemote(pool.session(pair, p.peer), nodeFile!, p.text, p.read.bytes)
        } catch (e) {
          if (!(e instanceof HapairError)) throw e
          Object.assign(p.file, { state: 'not updated', reason: e.message, replaced: [] })
        }
      }),
    )
  }

  const files = [controller, ...peers.map((p) => p.file)]
  const ok = files.every((f) => f.state !== 'not updated')
  const alreadyPinned = ok && files.every((f) => f.state === 'already pinned' || f.state === 'skipped')
  const result: PinResult = {
    pair: pair.name,
    node: node.name,
    address: node.address,
    port: ssh.port,
    fingerprint: o.fingerprint,
    key: { type: key.type, fingerprint: key.fingerprint },
    presented,
    dryRun: !!o.dryRun,
    alreadyPinned,
    ok,
    files,
  }
  if (!o.dryRun && !alreadyPinned) {
    result.audit = audit({
      operation: 'hostkeys-pin',
      pair: pair.name,
      node: node.name,
      address: node.address,
      fingerprint: key.fingerprint,
      ok,
      files: files.map((f) => ({ where: f.where, file: f.file, state: f.state })),
    })
  }
  return result
}

const label = (f: PinFile) => (f.where === 'controller' ? `controller ${f.file}` : f.file ? `${f.where}:${f.file}` : f.where)

export function formatPin(r: PinResult): string {
  const out = [`${r.node} (${r.address} port ${r.port}) presents ${shown(r.key)}, the fingerprint given${r.dryRun ? ' (dry run: nothing written)' : ''}`]
  for (const f of r.files) {
    const state = f.state === 'not updated' ? 'NOT UPDATED' : f.state
    out.push(
      `  ${label(f)}: ${state}${f.where !== 'controller' && f.state !== 'skipped' && f.state !== 'not updated' ? ` (as ${hostKeyAlias(r.pair, r.node)})` : ''}${f.reason ? `: ${f.reason}` : ''}`,
    )
    for (const x of f.replaced) out.push(`      replaced: ${x}`)
    for (const w of f.warnings) out.push(`      warning: ${w}`)
  }
  if (r.audit?.error) out.push(`warning: audit log ${r.audit.file} not written: ${r.audit.error}`)
  const names = (s: FileState[]) => r.files.filter((f) => s.includes(f.state)).map(label)
  if (r.alreadyPinned) out.push(`${r.node}: ${r.key.fingerprint} already pinned; nothing changed`)
  else if (r.dryRun)
    out.push(
      `${r.node}: would pin ${r.key.fingerprint} in ${names(['would update']).join(', ')}${r.ok ? '' : `; cannot update ${names(['not updated']).join(', ')}`}`,
    )
  else if (r.ok) out.push(`${r.node}: pinned ${r.key.fingerprint} (updated: ${names(['updated']).join(', ')})`)
  else {
    const done = names(['updated', 'already pinned'])
    out.push(
      `${r.node}: PARTLY PINNED: ${done.length ? `pinned in ${done.join(', ')}` : 'pinned nowhere'}; NOT updated: ${names(['not updated']).join(', ')}. Run the same command again once they answer`,
    )
  }
  return out.join('\n')
}

// ---- show ----

export interface ShownPin {
  node: string
  lines: (PinnedLine & { controller?: boolean })[]
}
export interface ShownFile {
  where: string
  file: string
  error?: string
  pins: ShownPin[]
}
export interface ShownPair {
  pair: string
  files: ShownFile[]
}

/**
 * What each file pins, per node: the controller's known_hosts for the pair's nodes, and each
 * node's sync.nodeKnownHostsFile for its peers, each line marked whether the controller pins that
 * key too. With `only`, just that node's pins (so not its own node-to-node file).
 */
export async function showPins(inv: LoadedInventory, pairs: Pair[], pool: SshPool, only?: string): Promise<ShownPair[]> {
  return Promise.all(
    pairs.map(async (pair) => {
      const files: ShownFile[] = []
      const targets = pair.nodes.filter((n) => only === undefined || n.name === only)
      const controllerKeys = new Map<string, string[]>()
      const byFile = new Map<string, ShownFile>()
      for (const n of pair.nodes) {
        const ssh = sshSettings(inv, pair, n)
        const file = ssh.knownHostsFile ?? ''
        let f = byFile.get(file)
        if (!f) {
          f = { where: 'controller', file, pins: [] }
          byFile.set(file, f)
          files.push(f)
        }
        if (!file) {
          f.error = 'no knownHostsFile in the inventory'
          continue
        }
        let text = ''
        try {
          const b = readIfPresent(file)
          text = b === undefined ? '' : decodeUtf8(b, `knownHostsFile ${file}`)
        } catch (e) {
          f.error = why(e)
          continue
        }
        const lines = pinnedLines(text, hostFieldsFor([n.address, n.name], ssh.port))
        controllerKeys.set(
          n.name,
          lines.filter((l) => !l.marker).map((l) => l.fingerprint),
        )
        if (targets.includes(n)) f.pins.push({ node: n.name, lines })
      }
      const nodeFile = pair.sync?.nodeKnownHostsFile
      if (nodeFile) {
        const sources = pair.nodes.filter((m) => targets.some((t) => t !== m))
        files.push(
          ...(await Promise.all(
            sources.map(async (m): Promise<ShownFile> => {
              const f: ShownFile = { where: m.name, file: nodeFile, pins: [] }
              try {
                const { text } = await readRemote(pool.session(pair, m), nodeFile)
                for (const t of targets.filter((x) => x !== m)) {
                  const port = sshSettings(inv, pair, t).port
                  const lines = pinnedLines(text, [hostKeyAlias(pair, t), ...hostFieldsFor([t.address, t.name], port)])
                  const trusted = controllerKeys.get(t.name) ?? []
                  f.pins.push({ node: t.name, lines: lines.map((l) => ({ ...l, controller: !l.marker && trusted.includes(l.fingerprint) })) })
                }
              } catch (e) {
                if (!(e instanceof HapairError)) throw e
                f.error = e.message
              }
              return f
            }),
          )),
        )
      }
      return { pair: pair.name, files }
    }),
  )
}

export function formatShow(pairs: ShownPair[]): string {
  const out: string[] = []
  for (const p of pairs) {
    out.push(`pair ${p.pair}`)
    for (const f of p.files) {
      out.push(`  ${f.where === 'controller' ? `controller ${f.file}` : `${f.where}:${f.file}`}`)
      if (f.error) {
        out.push(`    cannot read: ${f.error}`)
        continue
      }
      for (const pin of f.pins) {
        if (!pin.lines.length) out.push(`    ${pin.node}: nothing pinned`)
        for (const l of pin.lines) {
          const note = l.marker ? ` ${l.marker}` : l.controller === false ? '  (not the key the controller pins)' : ''
          out.push(`    ${pin.node}: ${l.type} ${l.fingerprint}  [${l.field}, line ${l.line}]${note}`)
        }
      }
    }
  }
  return out.join('\n')
}
