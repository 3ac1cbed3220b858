// js-libp2p <-> js-libp2p one-stream throughput over loopback (TCP + Noise + Yamux), as two
// node processes. `node p2p_js_throughput.mjs BYTES` prints {"mib_per_s": ...}.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

Promise.withResolvers ??= () => {
  let resolve, reject
  const promise = new Promise((a, b) => { resolve = a; reject = b })
  return { promise, resolve, reject }
}
const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@chainsafe/libp2p-noise')
const { yamux } = await import('@chainsafe/libp2p-yamux')
const { multiaddr } = await import('@multiformats/multiaddr')

const SINK = '/veil/bench/sink/1.0.0'
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})

if (process.argv[2] === 'receiver') {
  const bytes = Number(process.argv[3])
  await node.handle(SINK, async (stream) => {
    let got = 0
    for await (const c of stream) {
      got += c.byteLength
      if (got >= bytes) break
    }
    stream.send(new Uint8Array([107]))
    await stream.close()
  })
  console.log(node.getMultiaddrs()[0].toString())
} else {
  const bytes = Number(process.argv[2])
  const child = spawn(process.execPath, [import.meta.filename, 'receiver', String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addr = await new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve))
  const stream = await node.dialProtocol(multiaddr(addr), SINK)
  const chunk = new Uint8Array(256 * 1024).fill(0x5a)
  const start = performance.now()
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!stream.send(chunk.subarray(0, Math.min(chunk.length, bytes - sent)))) await stream.onDrain()
  }
  for await (const c of stream) { if (c.byteLength > 0) break }
  const secs = (performance.now() - start) / 1000
  console.log(JSON.stringify({ mib_per_s: bytes / 1048576 / secs }))
  child.kill('SIGTERM')
  await node.stop()
  process.exit(0)
}
