// What every playbook shares: argument parsing, inventory loading, exit codes, no stack traces for user errors.
// zx re-exports minimist, but importing zx's bundle costs ~100 ms at every playbook start.
import minimist from 'minimist'
import { EXIT, HapairError, InputError } from './errors.ts'
import { DEFAULT_INVENTORY, requireAddresses, type LoadedInventory } from './inventory/load.ts'
import { loadCheckedInventory } from './inventory/ssh-files.ts'
import { errnoText } from './inventory/read-file.ts'
import { setHintInventory } from './hint.ts'
import { COMPILED_PLAYBOOK, asInvoked } from './invocation.ts'

export interface ArgSpec {
  string?: string[]
  boolean?: string[]
  alias?: Record<string, string>
  default?: Record<string, unknown>
}
export type Args = minimist.ParsedArgs & { '--'?: string[] }

/** The script's own arguments, whether run as `npx zx playbooks/x.ts`, `tsx playbooks/x.ts` or `hapair x` (installed: dist/ under node_modules). */
export function scriptArgv(argv = process.argv): string[] {
  const i = argv.findIndex((a, k) => k >= 1 && /\.(ts|mjs|js)$/.test(a) && (!/node_modules/.test(a) || COMPILED_PLAYBOOK.test(a)))
  return argv.slice(i >= 0 ? i + 1 : 2)
}

/** Parses flags; an unknown flag is a usage error (exit 2), not silently ignored. */
export function parseArgs(spec: ArgSpec, argv = scriptArgv()): Args {
  const known = new Set([...(spec.string ?? []), ...(spec.boolean ?? []), ...Object.keys(spec.alias ?? {}), ...Object.values(spec.alias ?? {}), 'help'])
  const unknown: string[] = []
  const args = minimist(argv, {
    string: spec.string,
    boolean: [...(spec.boolean ?? []), 'help'],
    alias: spec.alias,
    default: spec.default,
    '--': true,
    unknown: (a) => {
      if (a.startsWith('-')) unknown.push(a)
      return true
    },
  }) as Args
  if (unknown.length)
    throw new InputError(
      `unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.join(' ')} (known: ${[...known].map((k) => (k.length > 1 ? '--' : '-') + k).join(' ')})`,
    )
  refuseMissingValues(spec, argv)
  return args
}

const flag = (k: string) => (k.length > 1 ? '--' : '-') + k
// What each of the playbooks' value flags takes, for the message; anything else "a value".
const NOUN: Record<string, string> = {
  inventory: 'a file name',
  junit: 'a file name',
  metrics: 'a file name',
  out: 'a file name',
  'stack-output': 'a file name (or - for stdin)',
  pair: 'a pair name',
  to: 'a node name',
  from: 'a node name',
  item: 'a sync item name',
  check: 'a check name',
}

/**
 * A value-taking flag given no value: `--pair --yes` must not read as "every pair" (minimist
 * gives ''), and `--pair=` neither. A value may start with "-" only when attached: `--to=-x`.
 */
function refuseMissingValues(spec: ArgSpec, argv: string[]): void {
  const names = new Set(spec.string ?? [])
  for (const [a, b] of Object.entries(spec.alias ?? {})) {
    if (names.has(a)) names.add(b)
    if (names.has(b)) names.add(a)
  }
  const end = argv.indexOf('--')
  const words = end >= 0 ? argv.slice(0, end) : argv
  words.forEach((w, i) => {
    const m = /^--?([^=]+)(=(.*))?$/.exec(w)
    if (!m || !names.has(m[1]) || w.startsWith('---')) return
    const attached = m[2] !== undefined
    const next = words[i + 1]
    // "-" alone is a value: stdin.
    if (attached ? m[3] === '' : next === undefined || (next.startsWith('-') && next !== '-')) {
      const key = spec.alias?.[m[1]] ?? m[1]
      throw new InputError(
        `${flag(m[1])} needs ${NOUN[key] ?? 'a value'}${attached ? '' : next === undefined ? ' (it is the last argument)' : ` (it is followed by ${next})`}`,
      )
    }
  })
}

/**
 * Loads and validates the inventory named by --inventory (or $HAPAIR_INVENTORY, or the lab's).
 * A node without an address (a provisioned pair before import-stack) is refused, exit 2, unless
 * the playbook works without addresses (validate, import-stack: addressesPending).
 */
export function inventoryFrom(args: Args, opts: { addressesPending?: boolean } = {}): LoadedInventory {
  const passed = (args.inventory as string | undefined) || process.env.HAPAIR_INVENTORY
  const inv = loadCheckedInventory(passed || DEFAULT_INVENTORY)
  setHintInventory(passed)
  return opts.addressesPending ? inv : requireAddresses(inv, passed || DEFAULT_INVENTORY)
}

/** How long a finished playbook may linger (a handle someone forgot) before it exits anyway. */
const EXIT_GRACE_MS = 300
const guarded = new WeakSet<NodeJS.WriteStream>()

/**
 * A reader that went away (`failover … | head -1`) or a full disk under a redirect never
 * interrupts an operation: the failed stream is left behind (node ignores SIGPIPE and reports
 * EPIPE as a stream error, which would otherwise be thrown in the middle of a step).
 */
export function guardOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    if (guarded.has(s)) continue
    guarded.add(s)
    s.on('error', () => {
      /* nobody is listening any more: keep working, stop writing */
    })
  }
}

/** Resolves once what was written reached the OS (or the stream is gone), at most after `ms`. */
function drained(s: NodeJS.WriteStream, ms = 1000): Promise<void> {
  if (s.destroyed || !s.writableLength) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    const done = () => {
      clearTimeout(t)
      resolve()
    }
    s.once('drain', done).once('close', done).once('error', done)
  })
}

/** The result is printed: exit now, whatever socket or timer is still open, so cron runs never pile up. */
async function exitSoon(): Promise<void> {
  await Promise.all([drained(process.stdout), drained(process.stderr)])
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref()
}

const isFsRefusal = (e: unknown): e is NodeJS.ErrnoException & { path: string; syscall: string } =>
  e instanceof Error &&
  typeof (e as NodeJS.ErrnoException).code === 'string' &&
  typeof (e as NodeJS.ErrnoException).path === 'string' &&
  typeof (e as NodeJS.ErrnoException).syscall === 'string'

/** Runs a playbook's main: user errors print one readable block and set the documented exit code. */
export async function runPlaybook(main: () => Promise<number | void>, usage?: string): Promise<void> {
  guardOutput()
  try {
    if (usage && scriptArgv().some((a) => a === '--help' || a === '-h')) {
      console.log(asInvoked(usage))
      process.exitCode = EXIT.ok
      return
    }
    const code = await main()
    process.exitCode = code ?? EXIT.ok
  } catch (e) {
    if (e instanceof HapairError) {
      console.error(asInvoked(e.message))
      if (e instanceof InputError && usage && /unknown option|usage/.test(e.message)) console.error(asInvoked(usage))
      process.exitCode = e.exitCode
    } else if (isFsRefusal(e)) {
      // The OS refused a file the user named (directly, or through the inventory or environment): not a bug.
      console.error(`${e.path}: cannot ${e.syscall}: ${errnoText(e)}`)
      process.exitCode = EXIT.badInput
    } else {
      console.error(`internal error (a bug in hapair, please report it): ${(e as Error)?.stack ?? e}`)
      process.exitCode = EXIT.failed
    }
  }
  await exitSoon()
}
