// Interop of `veil p2p` with js-libp2p 3.x in both directions: ping, identify, 10 MiB echo,
// and the negative cases (wrong PeerId, gater refusal).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ECHO, echoThrough, jsPeer, multiaddr, runTest, veilPeer, veilRun, waitFor } from './p2p-lib.mjs'

const TEN_MIB = 10 * 1024 * 1024

runTest('p2p-interop', 90000, async () => {
  const js = await jsPeer({ echo: true })
  const jsAddr = js.getMultiaddrs()[0].toString()
  const veil = await veilPeer(['--echo'])
  console.log(`js ${jsAddr}\nveil ${veil.addr}`)

  // ---- JS dials C++ ----
  const identified = new Promise((resolve) => js.addEventListener('peer:identify', (e) => resolve(e.detail)))
  const rtt = await js.services.ping.ping(multiaddr(veil.addr))
  assert.ok(rtt >= 0, 'JS pinged C++')
  const id = await identified
  assert.equal(id.peerId.toString(), veil.addr.split('/p2p/')[1])
  assert.match(id.agentVersion, /^veil\//, 'JS sees the C++ agent version')
  for (const p of ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', ECHO]) {
    assert.ok(id.protocols.includes(p), `JS sees C++ protocol ${p}`)
  }
  const data = randomBytes(TEN_MIB)
  const stream = await js.dialProtocol(multiaddr(veil.addr), ECHO)
  const back = await echoThrough(stream, data)
  assert.equal(back.length, data.length)
  assert.ok(back.equals(data), '10 MiB came back byte-identical through the C++ echo')
  // The C++ peer ran Identify on the JS peer that dialled it.
  const cppSaw = await waitFor('C++ identify of JS', () =>
    veil.lines.find((l) => l.event === 'identify' && l.peer === js.peerId.toString()))
  assert.match(cppSaw.agent_version, /js-libp2p/, 'C++ sees the JS agent version')
  assert.ok(cppSaw.protocols.includes('/ipfs/ping/1.0.0') && cppSaw.protocols.includes(ECHO), 'C++ sees JS protocols')
  console.log('JS -> C++: ping, identify, 10 MiB echo ok')

  // ---- C++ dials JS ----
  const p = await veilRun(['ping', jsAddr, '--output', 'json'])
  assert.equal(p.code, 0, `veil p2p ping: ${p.stderr}`)
  assert.ok(JSON.parse(p.stdout).rtt_ms >= 0)
  const i = await veilRun(['identify', jsAddr])
  assert.equal(i.code, 0, `veil p2p identify: ${i.stderr}`)
  const info = JSON.parse(i.stdout)
  assert.match(info.agent_version, /js-libp2p/)
  assert.ok(info.protocols.includes('/ipfs/ping/1.0.0') && info.protocols.includes(ECHO) && info.protocols.includes('/ipfs/id/1.0.0'))
  const e = await veilRun(['echo', jsAddr, '--bytes', String(TEN_MIB)])
  assert.equal(e.code, 0, `veil p2p echo: ${e.stderr}`)
  const echoed = JSON.parse(e.stdout)
  assert.equal(echoed.identical, true)
  assert.equal(echoed.returned, TEN_MIB)
  console.log('C++ -> JS: ping, identify, 10 MiB echo ok')

  // ---- negative ----
  // C++ dials the JS address with another PeerId: the Noise handshake proves a different
  // identity and the dial fails.
  const other = await jsPeer()
  const wrong = jsAddr.replace(js.peerId.toString(), other.peerId.toString())
  const w = await veilRun(['ping', wrong])
  assert.equal(w.code, 1, 'dialling the wrong PeerId fails')
  assert.match(w.stderr, /^veil: error: noise: dialled \S+ but the remote is \S+$/m)
  // A C++ peer whose gater refuses the JS PeerId: the connection closes before any protocol.
  const gated = await veilPeer(['--echo', '--deny', js.peerId.toString()])
  await assert.rejects(js.services.ping.ping(multiaddr(gated.addr)), 'gated JS peer cannot ping')
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.ok(!gated.lines.some((l) => l.event === 'identify'), 'no Identify ran on the refused connection')
  assert.match(gated.stderr(), /gater refused/)
  // An unsupported protocol gets "na": JS cannot open it on the C++ peer.
  await assert.rejects(js.dialProtocol(multiaddr(veil.addr), '/no/such/1.0.0'), /protocol/i)
  console.log('negative cases ok')
})
