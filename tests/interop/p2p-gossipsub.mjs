// A mixed GossipSub network of 3 js-libp2p and 3 `veil p2p peer` processes. Every C++ peer
// dials every JS peer (and no peer of its own kind), so JS<->JS and C++<->C++ traffic must be
// forwarded by the other implementation's mesh. Every peer publishes 50 messages; every peer
// must receive each other peer's 250... i.e. all 5*50 foreign messages exactly once. Both
// implementations run StrictSign and drop messages whose signature does not verify, so a
// delivered message is a validly signed one.
import assert from 'node:assert/strict'
import { jsPeer, multiaddr, runTest, veilPeer, waitFor } from './p2p-lib.mjs'

const TOPIC = 'veil-interop'
const PER_PEER = 50

runTest('p2p-gossipsub', 120000, async () => {
  const js = []
  for (let i = 0; i < 3; i++) js.push(await jsPeer({ pubsub: true }))
  const jsReceived = js.map(() => [])
  js.forEach((node, i) => {
    node.services.pubsub.subscribe(TOPIC)
    node.services.pubsub.addEventListener('message', (e) => {
      const m = e.detail
      if (m.topic !== TOPIC) return
      assert.equal(m.type, 'signed', 'JS received a signed message')
      jsReceived[i].push({ from: m.from.toString(), data: Buffer.from(m.data).toString() })
    })
  })
  const dials = js.flatMap((n) => ['--dial', n.getMultiaddrs()[0].toString()])
  const cpp = []
  for (let i = 0; i < 3; i++) cpp.push(await veilPeer(['--topic', TOPIC, ...dials], { stdin: 'pipe' }))
  const cppIds = cpp.map((c) => c.addr.split('/p2p/')[1])

  // Wait for the meshes: each JS peer grafted all three C++ peers.
  await waitFor('JS meshes', () => js.every((n) => n.services.pubsub.getMeshPeers(TOPIC).length === 3), 20000)
  await new Promise((resolve) => setTimeout(resolve, 1500))  // C++ heartbeats settle too

  for (let k = 0; k < PER_PEER; k++) {
    for (let i = 0; i < 3; i++) {
      await js[i].services.pubsub.publish(TOPIC, new TextEncoder().encode(`js${i}-${k}`))
      cpp[i].child.stdin.write(`cpp${i}-${k}\n`)
    }
  }

  const expectedPerPeer = 5 * PER_PEER
  const cppReceived = (i) => cpp[i].lines.filter((l) => l.topic === TOPIC)
  await waitFor('all deliveries', () =>
    jsReceived.every((r) => r.length >= expectedPerPeer) &&
    cpp.every((_, i) => cppReceived(i).length >= expectedPerPeer), 30000)
  await new Promise((resolve) => setTimeout(resolve, 1500))  // late duplicates would show now

  const names = [...js.map((n) => n.peerId.toString()), ...cppIds]
  const check = (who, self, msgs) => {
    const seen = new Set()
    for (const m of msgs) {
      const key = `${m.from}/${m.data}`
      assert.ok(!seen.has(key), `${who} received ${key} twice`)
      seen.add(key)
      assert.notEqual(m.from, self, `${who} received its own message`)
    }
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < PER_PEER; k++) {
        if (names[i] !== self) assert.ok(seen.has(`${names[i]}/js${i}-${k}`), `${who} missed js${i}-${k}`)
        if (names[3 + i] !== self) assert.ok(seen.has(`${names[3 + i]}/cpp${i}-${k}`), `${who} missed cpp${i}-${k}`)
      }
    }
    assert.equal(msgs.length, expectedPerPeer, `${who} got exactly ${expectedPerPeer}`)
  }
  js.forEach((n, i) => check(`js${i}`, n.peerId.toString(), jsReceived[i]))
  cpp.forEach((c, i) => check(`cpp${i}`, cppIds[i], cppReceived(i).map((l) =>
    ({ from: l.from, data: Buffer.from(l.data_hex, 'hex').toString() }))))
  console.log(`every peer received all ${expectedPerPeer} foreign messages exactly once`)
})
