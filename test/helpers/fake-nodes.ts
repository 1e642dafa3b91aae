// An in-memory stand-in for SshPool that answers the linux IP driver's commands (`ip -o addr
// show`, `ip addr add/del`) from a per-node address table, so the cloud drivers' node side can
// be tested without a lab. Nodes can be made unreachable like a fenced server.
import { RemoteError } from '../../lib/errors.ts'
import type { Node, Pair } from '../../lib/inventory/schema.ts'
import type { SshPool } from '../../lib/ssh.ts'

export class FakeNodes {
  /** node name -> addresses its kernel holds ("198.51.100.20/32"). */
  readonly held = new Map<string, Set<string>>()
  readonly unreachable = new Set<string>()
  readonly commands: { node: string; command: string }[] = []

  holds(node: string, address: string): boolean {
    return [...(this.held.get(node) ?? [])].some((c) => c.split('/')[0] === address)
  }

  private run(node: Node, cmd: string[] | { script: string }): { stdout: string; stderr: string; code: number } {
    const command = Array.isArray(cmd) ? cmd.join(' ') : cmd.script
    this.commands.push({ node: node.name, command })
    if (this.unreachable.has(node.name)) throw new RemoteError('unreachable on port 22: EHOSTUNREACH', { node: node.name, host: node.address, unreachable: true })
    const set = this.held.get(node.name) ?? new Set<string>()
    this.held.set(node.name, set)
    let m: RegExpExecArray | null
    if ((m = /^ip -o addr show dev (\S+)$/.exec(command))) {
      const dev = m[1]
      return { stdout: [...set].map((c) => `2: ${dev}    ${c.includes(':') ? 'inet6' : 'inet'} ${c} scope global ${dev}`).join('\n'), stderr: '', code: 0 }
    }
    if ((m = /ip (?:-6 )?addr add (\S+) dev/.exec(command))) { set.add(m[1]); return { stdout: '', stderr: '', code: 0 } }
    if ((m = /^ip addr del (\S+) dev/.exec(command))) { set.delete(m[1]); return { stdout: '', stderr: '', code: 0 } }
    return { stdout: '', stderr: `fake node: unknown command ${command}`, code: 127 }
  }

  pool(): SshPool {
    const self = this
    return {
      session: (_pair: Pair, node: Node | string) => ({
        async run(cmd: string[] | { script: string }) {
          const n = typeof node === 'string' ? ({ name: node, address: '0.0.0.0' } as Node) : node
          const r = self.run(n, cmd)
          if (r.code !== 0) throw new RemoteError(`exit ${r.code}: ${r.stderr}`, { node: n.name, host: n.address, exitCode: r.code, stderr: r.stderr })
          return { ...r, node: n.name, host: n.address, command: '', signal: null, durationMs: 0, ok: true }
        },
        async ping() { if (self.unreachable.has(typeof node === 'string' ? node : node.name)) throw new RemoteError('unreachable', { node: String(node), host: '', unreachable: true }) },
      }),
      close() {},
    } as unknown as SshPool
  }
}
