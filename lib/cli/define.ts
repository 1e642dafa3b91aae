// What a playbook's command line is, said once: its parser (lib/cli/parse.ts), its --help
// (lib/cli/help.ts) and the options table of docs/playbooks.md (lib/cli/table.ts) are all made
// from one of these. Types only and plain data: a playbook imports its definition at start-up.

export interface OptionDef {
  /** The long name, without "--". */
  readonly name: string
  readonly type: 'string' | 'boolean'
  /** A one-letter alias, without "-". */
  readonly short?: string
  /** May be given more than once; the values are collected in order. Any other value option given twice is refused. */
  readonly multiple?: boolean
  /** What the value is called in the usage line: FILE, NODE, NAME… */
  readonly value?: string
  /** What the value is, for "--pair needs a pair name". */
  readonly noun?: string
  /** The only values accepted. */
  readonly choices?: readonly string[]
  /** One line for --help and the docs table. */
  readonly help: string
}

export interface CommandDef {
  /** How the command is written, after the playbook's name: "pin NODE --fingerprint SHA256:...". */
  readonly name: string
  readonly help: string
}

export interface PlaybookDef {
  /** playbooks/NAME.ts */
  readonly playbook: string
  /** A mode with options of its own ("--follow" of sync): the word that selects it. */
  readonly mode?: string
  /** The usage lines after `npx zx playbooks/NAME.ts`; without them, one line made of the options. */
  readonly synopsis?: readonly string[]
  /** What the playbook does, a few lines. */
  readonly about?: readonly string[]
  readonly commands?: readonly CommandDef[]
  readonly options: readonly OptionDef[]
  /** The exit codes, one line: "exit 0: …; 1: …; 2: …". */
  readonly exit: string
}

/** The parsed command line of a definition: each option under its long name, typed by its definition. */
export type ArgsOf<D extends PlaybookDef> = {
  [O in D['options'][number] as O['name']]: O['type'] extends 'boolean' ? boolean : O['multiple'] extends true ? string[] : string | undefined
} & {
  /** The positional words before "--". */
  _: string[]
  /** Everything after "--", untouched. */
  '--': string[]
  help: boolean
}

/** Keeps a definition's literal types (for ArgsOf) while checking its shape. */
export const definePlaybook = <const D extends PlaybookDef>(d: D): D => d

export const INVENTORY = {
  name: 'inventory',
  type: 'string',
  value: 'FILE',
  noun: 'a file name',
  help: 'the inventory (JSON, or YAML for .yaml/.yml); default $HAPAIR_INVENTORY, else inventory/lab.json',
} as const satisfies OptionDef

export const PAIR = {
  name: 'pair',
  type: 'string',
  value: 'NAME',
  noun: 'a pair name',
  help: 'only this pair (default: every pair)',
} as const satisfies OptionDef

export const JSON_OUTPUT = { name: 'json', type: 'boolean', help: 'print the result as JSON' } as const satisfies OptionDef

export const DRY_RUN = { name: 'dry-run', type: 'boolean', help: 'say what would change, change nothing' } as const satisfies OptionDef

export const JUNIT = {
  name: 'junit',
  type: 'string',
  value: 'FILE',
  noun: 'a file name',
  help: 'also write a JUnit XML report to FILE',
} as const satisfies OptionDef

export const METRICS = {
  name: 'metrics',
  type: 'string',
  value: 'FILE',
  noun: 'a file name',
  help: 'also write Prometheus metrics (textfile collector format) to FILE',
} as const satisfies OptionDef
