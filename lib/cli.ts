// What every playbook shares: argument parsing, inventory loading, exit codes, no stack traces for user errors.
// zx re-exports minimist, but importing zx's bundle costs ~100 ms at every playbook start.
import minimist from 'minimist'
import { EXIT, HapairError, InputError } from './errors.ts'
import { loadInventory, DEFAULT_INVENTORY, type LoadedInventory } from './inventory/load.ts'

export interface ArgSpec { string?: string[]; boolean?: string[]; alias?: Record<string, string>; default?: Record<string, unknown> }
export type Args = minimist.ParsedArgs & { '--'?: string[] }

/** The script's own arguments, whether run as `npx zx playbooks/x.ts` or `tsx playbooks/x.ts`. */
export function scriptArgv(argv = process.argv): string[] {
  const i = argv.findIndex((a, k) => k >= 1 && /\.(ts|mjs|js)$/.test(a) && !/node_modules/.test(a))
  return argv.slice(i >= 0 ? i + 1 : 2)
}

/** Parses flags; an unknown flag is a usage error (exit 2), not silently ignored. */
export function parseArgs(spec: ArgSpec, argv = scriptArgv()): Args {
  const known = new Set([...(spec.string ?? []), ...(spec.boolean ?? []), ...Object.keys(spec.alias ?? {}), ...Object.values(spec.alias ?? {}), 'help'])
  const unknown: string[] = []
  const args = minimist(argv, {
    string: spec.string, boolean: [...(spec.boolean ?? []), 'help'], alias: spec.alias, default: spec.default, '--': true,
    unknown: (a) => { if (a.startsWith('-')) unknown.push(a); return true },
  }) as Args
  if (unknown.length) throw new InputError(`unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.join(' ')} (known: ${[...known].map((k) => (k.length > 1 ? '--' : '-') + k).join(' ')})`)
  return args
}

/** Loads and validates the inventory named by --inventory (or $HAPAIR_INVENTORY, or the lab's). */
export function inventoryFrom(args: Args): LoadedInventory {
  const file = (args.inventory as string | undefined) || process.env.HAPAIR_INVENTORY || DEFAULT_INVENTORY
  return loadInventory(file)
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
    s.on('error', () => { /* nobody is listening any more: keep working, stop writing */ })
  }
}

/** Resolves once what was written reached the OS (or the stream is gone), at most after `ms`. */
function drained(s: NodeJS.WriteStream, ms = 1000): Promise<void> {
  if (s.destroyed || !s.writableLength) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    const done = () => { clearTimeout(t); resolve() }
    s.once('drain', done).once('close', done).once('error', done)
  })
}

/** The result is printed: exit now, whatever socket or timer is still open, so cron runs never pile up. */
async function exitSoon(): Promise<void> {
  await Promise.all([drained(process.stdout), drained(process.stderr)])
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref()
}

/** Runs a playbook's main: user errors print one readable block and set the documented exit code. */
export async function runPlaybook(main: () => Promise<number | void>, usage?: string): Promise<void> {
  guardOutput()
  try {
    if (usage && scriptArgv().some((a) => a === '--help' || a === '-h')) {
      console.log(usage)
      process.exitCode = EXIT.ok
      return
    }
    const code = await main()
    process.exitCode = code ?? EXIT.ok
  } catch (e) {
    if (e instanceof HapairError) {
      console.error(e.message)
      if (e instanceof InputError && usage && /unknown option|usage/.test(e.message)) console.error(usage)
      process.exitCode = e.exitCode
    } else {
      console.error(`internal error (a bug in hapair, please report it): ${(e as Error)?.stack ?? e}`)
      process.exitCode = EXIT.failed
    }
  }
  await exitSoon()
}
