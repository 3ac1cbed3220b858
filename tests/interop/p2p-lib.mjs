// Shared helpers for the p2p interop tests: js-libp2p 3.x peers and `veil p2p` processes.
// Everything listens on 127.0.0.1 and is stopped by the test, also on failure.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import path from 'node:path'
import { existsSync } from 'node:fs'

// js-libp2p 3.x needs Promise.withResolvers, which Node 20 lacks.
Promise.withResolvers ??= () => {
  let resolve, reject
  const promise = new Promise((a, b) => { resolve = a; reject = b })
  return { promise, resolve, reject }
}

const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@chainsafe/libp2p-noise')
const { yamux } = await import('@chainsafe/libp2p-yamux')
const { identify } = await import('@libp2p/identify')
const { ping } = await import('@libp2p/ping')
const { gossipsub } = await import('@libp2p/gossipsub')
export const { multiaddr } = await import('@multiformats/multiaddr')

export const ECHO = '/veil/echo/1.0.0'

export function veilBinary () {
  const dir = process.env.VEIL_BINARY_DIR ?? path.resolve(import.meta.dirname, '../../build')
  const bin = path.join(dir, 'bin', 'veil')
  if (!existsSync(bin)) throw new Error(`veil binary not found at ${bin}: build the 'veil' target (VEIL_BINARY_DIR picks the build tree)`)
  return bin
}

const cleanups = []
export function onCleanup (f) { cleanups.push(f) }
export async function cleanup () {
  while (cleanups.length > 0) {
    try { await cleanups.pop()() } catch {}
  }
}

// Runs `main`, always cleaning up; exits 1 on failure or after `limitMs`.
export function runTest (name, limitMs, main) {
  const timer = setTimeout(async () => {
    console.error(`${name}: timed out after ${limitMs} ms`)
    await cleanup()
    process.exit(1)
  }, limitMs)
  main().then(async () => {
    clearTimeout(timer)
    await cleanup()
    console.log(`${name}: ok`)
    process.exit(0)
  }, async (err) => {
    clearTimeout(timer)
    console.error(`${name}: FAILED:`, err)
    await cleanup()
    process.exit(1)
  })
}

export async function jsPeer ({ echo = false, pubsub = false } = {}) {
  const services = { identify: identify(), ping: ping() }
  if (pubsub) {
    services.pubsub = gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, heartbeatInterval: 500 })
  }
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services
  })
  if (echo) {
    await node.handle(ECHO, async (stream) => {
      for await (const chunk of stream) {
        if (!stream.send(chunk.subarray())) await stream.onDrain()
      }
      await stream.close()
    })
  }
  onCleanup(() => node.stop())
  return node
}

// Sends `data` through `stream` while collecting what comes back.
export async function echoThrough (stream, data) {
  const writer = (async () => {
    const chunk = 64 * 1024
    for (let i = 0; i < data.length; i += chunk) {
      if (!stream.send(data.subarray(i, i + chunk))) await stream.onDrain()
    }
    await stream.close()
  })()
  const parts = []
  let total = 0
  for await (const c of stream) {
    const b = c.subarray()
    parts.push(b)
    total += b.length
  }
  await writer
  return Buffer.concat(parts, total)
}

// Starts `veil p2p peer ARGS`; resolves once it printed its address. `lines` collects the
// JSON lines it prints afterwards.
export async function veilPeer (args, { stdin = 'ignore' } = {}) {
  const child = spawn(veilBinary(), ['p2p', 'peer', ...args], { stdio: [stdin, 'pipe', 'pipe'] })
  const lines = []
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  onCleanup(() => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.on('exit', resolve)
    child.kill('SIGTERM')
  }))
  const rl = createInterface({ input: child.stdout })
  const addr = await new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`veil p2p peer exited with ${code}: ${stderr}`)))
    rl.once('line', resolve)
  })
  rl.on('line', (l) => { try { lines.push(JSON.parse(l)) } catch { lines.push({ raw: l }) } })
  return { child, addr, lines, stderr: () => stderr }
}

// Runs `veil p2p ARGS` to completion: { code, stdout, stderr }.
export function veilRun (args) {
  return new Promise((resolve) => {
    const child = spawn(veilBinary(), ['p2p', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

export async function waitFor (what, pred, limitMs = 10000) {
  const end = Date.now() + limitMs
  while (Date.now() < end) {
    const v = await pred()
    if (v) return v
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}
