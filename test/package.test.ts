// The package a team installs: `npm pack` (prepack builds dist/), the tarball installed into an
// empty directory, and the `hapair` bin run from there with plain node (no tsx, no checkout).
//
// Offline install: `npm install --offline hapair.tgz` in an empty directory asks the registry for
// every dependency's metadata, which the npm cache of a checkout installed with `npm ci` does not
// hold (ci reads the lockfile and caches tarballs only). So the empty directory gets a lockfile
// made from this checkout's own (its production entries: exactly what the tarball's dependencies
// need, pinned to the versions tested here) and `npm ci --offline` installs from the cached
// tarballs. A dependency the tarball names but the lock lacks fails the install; a package the
// bundles leave to node_modules (ssh2) but only a devDependency provides fails when a playbook loads.
// --ignore-scripts: ssh2's install script would compile an optional native speed-up, which ssh2
// does without; the test does not spend a compiler run on it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hapair-package-'))
const team = path.join(tmp, 'team') // the team's own repository: nothing of hapair's but the install
const PLAYBOOKS = readdirSync(path.join(root, 'playbooks'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort()

interface Run {
  code: number | null
  stdout: string
  stderr: string
}
// No NODE_OPTIONS: under `npm test` it carries the checkout's --import tsx, which the installed
// bin must not need (and which cannot even be resolved from the team's directory).
// FORCE_COLOR (uvu's) beside NO_COLOR makes node warn on stderr.
const { NODE_OPTIONS: _o, HAPAIR_INVENTORY: _i, FORCE_COLOR: _c, ...baseEnv } = process.env
// The playbooks' code cache (bin/bundle.mjs) goes under tmp, not this user's ~/.cache.
const cacheDir = path.join(tmp, 'cache')
const env: NodeJS.ProcessEnv = { ...baseEnv, NO_COLOR: '1', HAPAIR_AUDIT_LOG: path.join(tmp, 'audit.jsonl'), HAPAIR_CACHE_DIR: cacheDir }

function run(file: string, args: string[], cwd: string, timeout = 120_000, extra: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...env, ...extra }, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
    })
  })
}
// npm's notices (a line per packed file) would bury the lines that say what failed.
const said = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('npm notice'))
    .join('\n')
    .slice(-4000)
const must = (r: Run, what: string) => {
  assert.is(r.code, 0, `${what}: exit ${r.code}\n${said(r.stdout)}\n${said(r.stderr)}`)
  return r
}

let files: string[] = []
const hapair = path.join(team, 'node_modules/.bin/hapair')
const installed = path.join(team, 'node_modules/hapair')

// uvu reports a failed before hook only as tests not passed: say why here.
test.before(async () => {
  try {
    await setUp()
  } catch (e) {
    console.error(`package set-up failed: ${(e as Error).message}`)
    throw e
  }
})

async function setUp(): Promise<void> {
  // npm runs prepack (the build) with the checkout's .npmrc, as CI's `npm pack` does.
  const packed = must(await run('npm', ['pack', '--json', '--pack-destination', tmp], root, 240_000), 'npm pack')
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))
  files = info.files.map((f: { path: string }) => f.path)
  const tgz = path.join(tmp, info.filename)

  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'))
  const spec = `file:../${info.filename}`
  const packages: Record<string, unknown> = {
    '': { name: 'team', version: '1.0.0', dependencies: { hapair: spec } },
    'node_modules/hapair': {
      version: pkg.version,
      resolved: spec,
      integrity: info.integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  }
  for (const [k, v] of Object.entries(lock.packages as Record<string, { dev?: boolean; devOptional?: boolean }>)) {
    if (k && !v.dev && !v.devOptional) packages[k] = v
  }
  mkdirSync(team)
  writeFileSync(path.join(team, 'package.json'), JSON.stringify({ name: 'team', version: '1.0.0', private: true, dependencies: { hapair: spec } }, null, 2))
  writeFileSync(path.join(team, 'package-lock.json'), JSON.stringify({ name: 'team', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2))
  must(await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], team, 240_000), 'npm ci of the tarball')
  assert.ok(existsSync(tgz))
}

test.after(() => rmSync(tmp, { recursive: true, force: true }))

test('the tarball holds the bin, every compiled playbook and the files they read; no sources, stacks or lab keys', () => {
  for (const f of [
    'bin/hapair.mjs',
    'bin/bundle.mjs',
    'package.json',
    'README.md',
    'schemas/inventory.schema.json',
    'dist/hapair.cjs',
    'dist/build-id',
    'dist/THIRD_PARTY_LICENSES.txt',
    'inventory/lab.json',
  ]) {
    assert.ok(files.includes(f), `${f} missing from the tarball`)
  }
  // What the bundled code reads by its path in the package (lib/package-files.ts) ships too.
  const wanted = new Set<string>()
  for (const f of files.filter((x) => /^dist\/.*\.c?js$/.test(x))) {
    for (const m of readFileSync(path.join(installed, f), 'utf8').matchAll(/packageFile\(\s*(['"])([^'"]+)\1\s*\)/g)) wanted.add(m[2])
  }
  assert.ok(wanted.has('examples/systemd/hapair-guard.service') && wanted.has('lib/lab/server.mjs'), [...wanted].join(' '))
  for (const f of wanted) assert.ok(files.includes(f), `${f} (read by the bundle) missing from the tarball`)
  for (const p of PLAYBOOKS) {
    assert.ok(files.includes(`dist/playbooks/${p}.js`), `dist/playbooks/${p}.js missing`)
    assert.ok(files.includes(`dist/help/${p}.txt`), `dist/help/${p}.txt missing`)
  }
  const stray = files.filter(
    (f) =>
      /\.ts$/.test(f) ||
      /^(stacks|test|bench|scripts|playbooks)\//.test(f) ||
      (/^lib\//.test(f) && !wanted.has(f)) ||
      /(^|\/)\.lab\//.test(f) ||
      /_ed25519|known_hosts/.test(f),
  )
  assert.equal(stray, [], `not for the package: ${stray.join(', ')}`)
  const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'))
  const heavy = Object.keys(pkg.dependencies ?? {}).filter((d) => /^@pulumi\/|^(tsx|zx|typescript)$/.test(d))
  assert.equal(heavy, [], 'the installed package needs no Pulumi, tsx or zx')
})

test('Pulumi belongs to the stacks workspace alone: the root package does not list it, even as a dev dependency', () => {
  const rootPkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const stacks = JSON.parse(readFileSync(path.join(root, 'stacks/package.json'), 'utf8'))
  assert.equal(rootPkg.workspaces, ['stacks'])
  const listed = Object.keys({ ...rootPkg.dependencies, ...rootPkg.devDependencies }).filter((d) => d.startsWith('@pulumi/'))
  assert.equal(listed, [], 'the root package.json lists Pulumi')
  for (const d of ['@pulumi/pulumi', '@pulumi/hcloud', '@pulumi/digitalocean', '@pulumi/tls', '@pulumi/policy'])
    assert.ok(stacks.dependencies?.[d], `stacks/package.json: ${d}`)
  assert.is(stacks.private, true)
})

// The README a team reads in node_modules/hapair links to docs/ for everything past one page.
test('the documentation the README links to ships with it', () => {
  const readme = readFileSync(path.join(installed, 'README.md'), 'utf8')
  const linked = [...readme.matchAll(/\]\((docs\/[^)#\s]+\.md)[)#]/g)].map((m) => m[1])
  assert.ok(linked.length > 0, 'the README links to no docs/ file')
  for (const f of new Set(linked)) assert.ok(files.includes(f), `${f} (linked from the README) missing from the tarball`)
  for (const f of readdirSync(path.join(root, 'docs')).filter((x) => x.endsWith('.md')))
    assert.ok(files.includes(`docs/${f}`), `docs/${f} missing from the tarball`)
})

test("hapair validate in the team's directory, with its own --inventory", async () => {
  copyFileSync(path.join(installed, 'inventory/lab.json'), path.join(team, 'pairs.json'))
  const ok = must(await run(hapair, ['validate', '--inventory', 'pairs.json'], team), 'hapair validate')
  assert.is(ok.stdout.trim(), 'ok: pairs.json (1 pair, 2 nodes)')

  const bad = JSON.parse(readFileSync(path.join(team, 'pairs.json'), 'utf8'))
  bad.pairs[0].nodes[0].adress = bad.pairs[0].nodes[0].address
  writeFileSync(path.join(team, 'broken.json'), JSON.stringify(bad))
  const r = await run(hapair, ['validate', '--inventory', 'broken.json'], team)
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /^broken\.json: pairs\/0\/nodes\/0\/adress: unknown property "adress"/m)
  assert.not.match(r.stderr, /internal error|\n\s+at /)

  // A length rule runs ajv's ucs2length, which the build hands to the validator script.
  const empty = JSON.parse(readFileSync(path.join(team, 'pairs.json'), 'utf8'))
  empty.pairs[0].nodes[0].ssh = { user: '' }
  writeFileSync(path.join(team, 'empty-user.json'), JSON.stringify(empty))
  const e = await run(hapair, ['validate', '--inventory', 'empty-user.json'], team)
  assert.is(e.code, 2, e.stderr)
  assert.match(e.stderr, /^empty-user\.json: pairs\/0\/nodes\/0\/ssh\/user: must NOT have fewer than 1 characters/m)

  // No default inventory in the team's directory: said so, exit 2, nothing of the package's used.
  const none = await run(hapair, ['validate'], team)
  assert.is(none.code, 2, none.stdout + none.stderr)
  assert.match(none.stderr, /inventory\/lab\.json/)
})

// The validator is a script run with a V8 code cache the build made (scripts/build.mjs): the
// installed one must be accepted by this node, or every playbook start compiles it again.
test("the validator's code cache ships and this node accepts it", async () => {
  for (const f of ['dist/validator/inventory.validate.js', 'dist/validator/inventory.validate.js.cache']) assert.ok(files.includes(f), `${f} missing`)
  const file = path.join(installed, 'dist/validator/inventory.validate.js')
  const check = `const vm = require('node:vm'), fs = require('node:fs'); const f = process.argv[1]; process.stdout.write(String(new vm.Script(fs.readFileSync(f, 'utf8'), { filename: f, cachedData: fs.readFileSync(f + '.cache') }).cachedDataRejected))`
  const r = must(await run(process.execPath, ['-e', check, file], team), 'the cache check')
  assert.is(r.stdout, 'false', 'V8 rejected the code cache')
})

// The playbooks run from one bundle with a V8 code cache per playbook (bin/bundle.mjs): written
// by the first run that got through its work, then used as it is (the same file, not rewritten);
// never written by a run that stopped at bad input, nor with HAPAIR_CODE_CACHE=off.
test('the code cache: written after a run that did its work, used by the next, not written after bad input', async () => {
  copyFileSync(path.join(installed, 'inventory/lab.json'), path.join(team, 'cached.json'))
  const id = readFileSync(path.join(installed, 'dist/build-id'), 'utf8').trim()
  const dir = path.join(tmp, 'cache-test')
  const cached = () => (existsSync(dir) ? readdirSync(dir) : [])

  const bad = await run(hapair, ['validate', '--inventory', 'missing.json'], team, 60_000, { HAPAIR_CACHE_DIR: dir })
  assert.is(bad.code, 2, bad.stderr)
  assert.equal(cached(), [], 'a run that stopped at bad input wrote a cache')
  must(await run(hapair, ['validate', '--inventory', 'cached.json'], team, 60_000, { HAPAIR_CACHE_DIR: dir, HAPAIR_CODE_CACHE: 'off' }), 'validate, cache off')
  assert.equal(cached(), [], 'HAPAIR_CODE_CACHE=off wrote a cache')

  must(await run(hapair, ['validate', '--inventory', 'cached.json'], team, 60_000, { HAPAIR_CACHE_DIR: dir }), 'validate')
  const name = `validate-${id}-${process.version}-${process.arch}.v8cache`
  assert.equal(cached(), [name])
  const file = path.join(dir, name)
  assert.is(statSync(file).mode & 0o777, 0o600, 'the cache is readable by its owner only')
  assert.is(statSync(dir).mode & 0o777, 0o700)
  const first = statSync(file)
  assert.ok(first.size > 10_000, `a cache of ${first.size} bytes holds next to nothing`)

  // Accepted: the next run compiles nothing it has bytecode for and leaves the file alone (a
  // rejected cache is written again, by a rename: a new inode).
  const again = must(await run(hapair, ['validate', '--inventory', 'cached.json'], team, 60_000, { HAPAIR_CACHE_DIR: dir }), 'validate, cached')
  assert.is(again.stdout.trim(), 'ok: cached.json (1 pair, 2 nodes)')
  assert.is(statSync(file).ino, first.ino, 'the cache was rejected and written again')

  // A cache V8 cannot use (damaged, another build's) is compiled around and replaced.
  writeFileSync(file, Buffer.alloc(first.size, 7), { mode: 0o600 })
  must(await run(hapair, ['validate', '--inventory', 'cached.json'], team, 60_000, { HAPAIR_CACHE_DIR: dir }), 'validate, damaged cache')
  assert.is.not(statSync(file).ino, first.ino, 'the damaged cache was kept')
  assert.is.not(readFileSync(file)[0], 7)

  // A directory others can write is no place for code: nothing is written there (and nothing
  // there is read, test/bundle.test.ts).
  const shared = path.join(tmp, 'cache-shared')
  mkdirSync(shared, { mode: 0o777 })
  chmodSync(shared, 0o777)
  must(await run(hapair, ['validate', '--inventory', 'cached.json'], team, 60_000, { HAPAIR_CACHE_DIR: shared }), 'validate, shared cache dir')
  assert.equal(readdirSync(shared), [], 'a cache was written into a world-writable directory')
})

test('hapair status --help: its usage, spelled as the installed command', async () => {
  const r = must(await run(hapair, ['status', '--help'], team), 'hapair status --help')
  assert.match(r.stdout, /^usage: hapair status \[--inventory FILE\]/)
  assert.not.match(r.stdout, /npx zx|playbooks\//)
  assert.is(r.stderr, '')
})

test('every playbook loads from the install with plain node and prints its usage; the bin lists them all', async () => {
  const list = must(await run(hapair, ['--help'], team), 'hapair --help')
  for (const p of PLAYBOOKS) assert.match(list.stdout, new RegExp(`^  ${p} +\\S`, 'm'), `hapair --help: no line for ${p}`)
  // The compiled module itself (not the help file the bin prints): its whole import graph resolves.
  for (let i = 0; i < PLAYBOOKS.length; i += 2) {
    await Promise.all(
      PLAYBOOKS.slice(i, i + 2).map(async (p) => {
        const r = must(await run(process.execPath, [path.join(installed, `dist/playbooks/${p}.js`), '--help'], team), `${p} --help`)
        assert.match(r.stdout, new RegExp(`^usage: hapair ${p}\\b`), p)
        assert.is(readFileSync(path.join(installed, `dist/help/${p}.txt`), 'utf8'), r.stdout, `dist/help/${p}.txt is stale`)
      }),
    )
  }
  const unknown = await run(hapair, ['statsu'], team)
  assert.is(unknown.code, 2)
  assert.match(unknown.stderr, /no playbook "statsu" \(playbooks: .*status/)
})

test.run()
