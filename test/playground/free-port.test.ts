import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import net from 'node:net'

import {freePort, portFree} from '../../src/playground/free-port.js'

describe('free ports for Consul', () => {
  it('hands out bindable ports below the ephemeral range, never the same twice', async () => {
    const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    const ports: number[] = []
    for (let i = 0; i < 50; i++) ports.push(await freePort())
    expect(new Set(ports).size).to.equal(50)
    for (const port of ports) expect(port).to.be.below(ephemeralLow)
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(ports[0], '127.0.0.1', resolve))
    try {
      expect(await portFree(ports[0]!)).to.equal(false)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
