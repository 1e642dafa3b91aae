// The lab's stand-in for a real service, run on a lab node by /var/lib/lab/bin/svc:
//   node server.mjs NAME   (config: /var/lib/lab/services/NAME.json = { "http": [ports], "tcp": [ports] })
// http: every request gets 200 and a body that is exactly the node's name, so a check (or a
// person with curl) sees at once which node answered. tcp: every line received is answered
// with "NAME NODE\n". The pid file is written only once every port listens, so `svc status`
// never reports a server that cannot answer yet.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'

const LAB = '/var/lib/lab'
const name = process.argv[2]
if (!name || !/^[a-z0-9][a-z0-9_.-]*$/.test(name)) {
  console.error('usage: server.mjs NAME')
  process.exit(2)
}
const node = readFileSync(`${LAB}/node-name`, 'utf8').trim()
const cfg = JSON.parse(readFileSync(`${LAB}/services/${name}.json`, 'utf8'))
const pidFile = `${LAB}/run/${name}.pid`

const listen = (server, port) =>
  new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host: '0.0.0.0' }, resolve)
  })

const servers = []
for (const port of cfg.http ?? []) {
  const s = http.createServer((req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(node) })
    res.end(node)
  })
  servers.push(listen(s, port))
}
for (const port of cfg.tcp ?? []) {
  const s = net.createServer((sock) => {
    let buf = ''
    sock.setEncoding('utf8')
    sock.on('error', () => {})
    sock.on('data', (d) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        buf = buf.slice(i + 1)
        sock.write(`${name} ${node}\n`)
      }
    })
  })
  servers.push(listen(s, port))
}

try {
  await Promise.all(servers)
} catch (e) {
  console.error(`${new Date().toISOString()} ${name}: cannot listen: ${e.message}`)
  process.exit(1)
}

writeFileSync(`${pidFile}.tmp`, `${process.pid}\n`)
renameSync(`${pidFile}.tmp`, pidFile)
console.log(`${new Date().toISOString()} ${name} on ${node}: listening (http ${cfg.http ?? []}, tcp ${cfg.tcp ?? []})`)

const stop = () => {
  try {
    if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile)
  } catch {
    /* already gone */
  }
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
