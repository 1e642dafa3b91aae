// `npm run build` (prepack runs it): bundles every playbook with esbuild into one CommonJS script,
// dist/hapair.cjs, that the installed `hapair` bin runs with plain node and a V8 code cache
// (bin/bundle.mjs says why and how); dist/playbooks/NAME.js is a two-line module that runs
// NAME from it, for `node dist/playbooks/NAME.js`. A bundle, not tsc's one file per module:
// node 20 pays for every module it resolves and loads, and `hapair status` loads about 200 (88
// of lib/, the rest ssh2, yaml, ajv). One script, not one per playbook: the code they share
// ships once (docs/benchmarks.md: Start-up). Type-checking is `npm run typecheck`, not this.
//
// Then it runs every bundled playbook with `--help` and keeps what it printed in dist/help/NAME.txt:
// `hapair NAME --help` prints that file instead of loading the playbook and everything it imports.
// Plain JavaScript so it runs before anything is compiled.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = path.join(root, 'dist')
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
const fail = (lines) => {
  console.error(`build: ${lines.join('\n  ')}`)
  process.exit(1)
}

// A native addon (ssh2's optional crypto binding, cpu-features) cannot be bundled: its require
// is rewritten to the file in its installed package (`ssh2/lib/…/sshcrypto.node`), which npm
// builds there. Both load inside try/catch: without the build, ssh2 uses node's crypto.
const nativeFromPackage = {
  name: 'native-from-package',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (a) => {
      const abs = path.resolve(a.resolveDir, a.path)
      const at = abs.lastIndexOf(`${path.sep}node_modules${path.sep}`)
      if (at < 0) return { errors: [{ text: `native addon outside node_modules: ${abs}` }] }
      return {
        path: abs
          .slice(at + '/node_modules/'.length)
          .split(path.sep)
          .join('/'),
        external: true,
      }
    })
  },
}

// The inventory's generated validator (schemas/inventory.validate.mjs, 435 KB of one function
// per schema part) is what V8 spends longest compiling: about 40 ms to compile the module and
// 40 more on the first call, every playbook start. In dist/ it is a plain script run with
// node:vm and a V8 code cache made here, after validating the shipped inventories: the same
// code, so the same validation, without the compiling. A cache V8 does not accept (another
// node version) is ignored by V8 and the script compiled as before.
const VALIDATOR = 'schemas/inventory.validate.mjs'
const VALIDATOR_SCRIPT = 'dist/validator/inventory.validate.js'
const VALIDATOR_IMPORTS = ["import { fullFormats } from 'ajv-formats/dist/formats.js'", "import ucs2length from 'ajv/dist/runtime/ucs2length.js'"]
function validatorScript() {
  const lines = readFileSync(path.join(root, VALIDATOR), 'utf8').split('\n')
  const imports = lines.filter((l) => l.startsWith('import '))
  if (JSON.stringify(imports) !== JSON.stringify(VALIDATOR_IMPORTS))
    fail([`${VALIDATOR} imports ${JSON.stringify(imports)}, not the two scripts/build.mjs passes in: update VALIDATOR_IMPORTS and its wrapper`])
  const body = lines.filter((l) => !l.startsWith('import ')).join('\n')
  const exp = /export const validate = (\w+);export default \1;/.exec(body)
  if (!exp) fail([`${VALIDATOR}: no "export const validate = …;export default …;" to rewrite`])
  return `(function (fullFormats, ucs2length) {\n${body.replace(exp[0], '')}\nreturn ${exp[1]}\n})\n`
}
// Replaces the generated module in the bundle; an .mjs path, so its default import of the
// CommonJS ucs2length means what it means in the generated module.
const validatorFromScript = {
  name: 'validator-from-script',
  setup(b) {
    b.onLoad({ filter: /[\\/]schemas[\\/]inventory\.validate\.mjs$/ }, () => ({
      loader: 'js',
      resolveDir: path.join(root, 'schemas'),
      contents: [
        "import { readFileSync } from 'node:fs'",
        "import vm from 'node:vm'",
        ...VALIDATOR_IMPORTS,
        "import { packageFile } from '../lib/package-files.ts'",
        `const file = packageFile('${VALIDATOR_SCRIPT}')`,
        'let cachedData',
        'try {',
        "  cachedData = readFileSync(file + '.cache')",
        '} catch {}',
        "const script = new vm.Script(readFileSync(file, 'utf8'), { filename: file, cachedData })",
        'export const validate = script.runInThisContext()(fullFormats, ucs2length)',
        'export default validate',
      ].join('\n'),
    }))
  },
}

rmSync(dist, { recursive: true, force: true })
mkdirSync(path.join(dist, 'validator'), { recursive: true })
writeFileSync(path.join(root, VALIDATOR_SCRIPT), validatorScript())
const playbooks = readdirSync(path.join(root, 'playbooks'))
  .filter((f) => f.endsWith('.ts'))
  .sort()
// A playbook runs its main at the top level, `await runPlaybook(…)`, which CommonJS cannot hold;
// runPlaybook handles its own errors and ends the process, so in the bundle it runs unawaited.
const TOP_LEVEL_RUN = /^await runPlaybook\(/m
const unawaitedMain = {
  name: 'unawaited-main',
  setup(b) {
    b.onLoad({ filter: /[\\/]playbooks[\\/][^\\/]+\.ts$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8')
      if (!TOP_LEVEL_RUN.test(text)) return { errors: [{ text: `${a.path}: no top-level "await runPlaybook(" (scripts/build.mjs runs it unawaited)` }] }
      return { loader: 'ts', contents: text.replace(TOP_LEVEL_RUN, 'void runPlaybook(') }
    })
  },
}
const books = playbooks.map((f) => f.replace(/\.ts$/, ''))
const result = await build({
  absWorkingDir: root,
  // Each playbook's module runs when it is asked for, not when the bundle loads.
  stdin: {
    contents: `export const playbooks = {\n${books.map((n) => `  ${JSON.stringify(n)}: () => import('./playbooks/${n}.ts'),`).join('\n')}\n}\n`,
    resolveDir: root,
    sourcefile: 'playbooks.ts',
    loader: 'ts',
  },
  outfile: 'dist/hapair.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  charset: 'ascii', // bin/bundle.mjs reads it as latin1
  // jsonc-parser's "main" is a UMD wrapper whose require calls a bundler cannot follow.
  mainFields: ['module', 'main'],
  // bin/bundle.mjs runs the script with the bundle's own require, __filename and __dirname.
  define: { 'import.meta.url': '__hapairUrl' },
  banner: { js: "const __hapairUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [nativeFromPackage, validatorFromScript, unawaitedMain],
  legalComments: 'none', // their licences go to dist/THIRD_PARTY_LICENSES.txt whole
  metafile: true,
  logLevel: 'warning',
})
const bundleText = readFileSync(path.join(root, 'dist/hapair.cjs'))
writeFileSync(path.join(dist, 'build-id'), createHash('sha256').update(bundleText).digest('hex').slice(0, 16) + '\n')
mkdirSync(path.join(dist, 'playbooks'))
for (const n of books)
  writeFileSync(
    path.join(dist, 'playbooks', `${n}.js`),
    `// npm run build: runs the playbook ${n} from dist/hapair.cjs (bin/bundle.mjs)\nimport { runBundled } from '../../bin/bundle.mjs'\nawait runBundled(${JSON.stringify(n)})\n`,
  )

// The bundle moves code away from the files it reads: such a file is named by packageFile('…')
// (lib/package-files.ts), relative to the package root, and must ship.
const outputs = Object.keys(result.metafile.outputs).filter((f) => /\.c?js$/.test(f))
const problems = []
const shipped = (rel) =>
  (pkg.files ?? []).some((f) =>
    f.endsWith('/')
      ? rel.startsWith(f)
      : f.includes('*')
        ? new RegExp(
            `^${f
              .split('*')
              .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
              .join('[^/]*')}$`,
          ).test(rel)
        : rel === f,
  )
for (const out of outputs) {
  const text = readFileSync(path.join(root, out), 'utf8')
  for (const m of text.matchAll(/new URL\(\s*(['"`])([^'"`]*)\1\s*,\s*(?:import\.meta\.url|__hapairUrl)\s*\)/g)) {
    problems.push(`${out}: new URL(${m[1]}${m[2]}${m[1]}, import.meta.url) means another file once bundled: use packageFile() (lib/package-files.ts)`)
  }
  for (const m of text.matchAll(/packageFile\(\s*(['"])([^'"]+)\1\s*\)/g)) {
    if (!existsSync(path.join(root, m[2]))) problems.push(`${out}: packageFile('${m[2]}'): no such file`)
    else if (!shipped(m[2])) problems.push(`${out}: packageFile('${m[2]}'): not in package.json "files"`)
  }
}
if (problems.length) fail(problems)

// What was bundled from node_modules, with each package's own licence text.
const bundled = new Map()
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /^(.*?node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (m && !bundled.has(m[1])) bundled.set(m[1], JSON.parse(readFileSync(path.join(root, m[1], 'package.json'), 'utf8')))
}
const notices = [...bundled]
  .sort(([, a], [, b]) => a.name.localeCompare(b.name))
  .map(([dir, p]) => {
    const file = readdirSync(path.join(root, dir)).find((f) => /^licen[cs]e/i.test(f))
    const licence = p.license ?? p.licenses?.map((l) => l.type ?? l).join(', ') ?? 'no licence field'
    return `${p.name} ${p.version} (${licence})\n\n${file ? readFileSync(path.join(root, dir, file), 'utf8').trim() : `licence: ${licence}`}\n`
  })
writeFileSync(path.join(dist, 'THIRD_PARTY_LICENSES.txt'), `dist/ bundles code of these packages:\n\n${notices.join('\n' + '-'.repeat(72) + '\n\n')}`)

// Plain node, as the bin runs them (npm passes the checkout's `--import tsx` down in
// NODE_OPTIONS). Should a playbook ever run its main for --help, it finds no inventory and no
// audit log of anyone's: the build fails on its exit code instead of touching a pair.
// FORCE_COLOR (a test runner's) beside NO_COLOR makes node warn on stderr.
const scratch = mkdtempSync(path.join(os.tmpdir(), 'hapair-build-'))
const { NODE_OPTIONS: _, FORCE_COLOR: _c, ...baseEnv } = process.env
const env = {
  ...baseEnv,
  NO_COLOR: '1',
  HAPAIR_CODE_CACHE: 'off',
  HAPAIR_INVENTORY: path.join(scratch, 'no-inventory.json'),
  HAPAIR_AUDIT_LOG: path.join(scratch, 'audit.jsonl'),
}
const help = (file) =>
  new Promise((resolve) => {
    execFile(process.execPath, [file, '--help'], { env, cwd: scratch, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr }),
    )
  })
mkdirSync(path.join(dist, 'help'))
const bad = []
try {
  // Two at a time: each is one node process, mostly CPU.
  for (let i = 0; i < books.length; i += 2) {
    await Promise.all(
      books.slice(i, i + 2).map(async (name) => {
        const r = await help(path.join(dist, 'playbooks', `${name}.js`))
        if (r.code !== 0 || !r.stdout.trim() || r.stderr.trim())
          bad.push(
            `${name} --help: exit ${r.code}${r.stderr.trim() ? `, stderr: ${r.stderr.trim().split('\n')[0]}` : ''}${r.stdout.trim() ? '' : ', printed nothing'}`,
          )
        else writeFileSync(path.join(dist, 'help', `${name}.txt`), r.stdout)
      }),
    )
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
if (bad.length) fail(["a bundled playbook's --help did not print its usage:", ...bad])

// The code cache: made by plain node (the flags V8 checks a cache against are the bin's), after
// running the validator over every shipped inventory so the functions they reach are compiled.
const cacheMaker = `
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import vm from 'node:vm'
import { createRequire } from 'node:module'
const [root, file] = process.argv.slice(1)
const require = createRequire(root + '/package.json')
const script = new vm.Script(readFileSync(file, 'utf8'), { filename: file })
const validate = script.runInThisContext()(require('ajv-formats/dist/formats.js').fullFormats, require('ajv/dist/runtime/ucs2length.js'))
let n = 0
for (const dir of ['inventory', 'examples']) {
  for (const f of readdirSync(root + '/' + dir, { recursive: true })) {
    if (!String(f).endsWith('.json')) continue
    let data
    try { data = JSON.parse(readFileSync(root + '/' + dir + '/' + f, 'utf8')) } catch { continue }
    if (data && typeof data === 'object' && 'pairs' in data) { validate(data); validate({ ...data, version: 'x' }); n++ }
  }
}
if (n === 0) { console.error('no inventory to warm the validator with'); process.exit(1) }
writeFileSync(file + '.cache', script.createCachedData())
`
const cache = await new Promise((resolve) =>
  execFile(process.execPath, ['--input-type=module', '-e', cacheMaker, root, path.join(root, VALIDATOR_SCRIPT)], { env, timeout: 60_000 }, (err, _o, stderr) =>
    resolve(err ? `exit ${err.code ?? err.signal}: ${stderr.trim()}` : undefined),
  ),
)
if (cache) fail([`the validator's code cache: ${cache}`])
console.error(
  `build: ${books.length} playbooks in dist/hapair.cjs (${(bundleText.length / 1e6).toFixed(1)} MB, ${bundled.size} packages bundled), their help in dist/help/`,
)
