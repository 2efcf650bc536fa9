/**
 * A node's partition watch across a Consul rebuilt from scratch (a dev agent restarted) in
 * which a partition state comes back at the very ModifyIndex it had before, with another
 * value, while the topic's highest index went backwards: the watch must judge it again (a new history), not skip it as already seen. The
 * watch reaches Consul through a proxy that holds its requests until the rebuilt Consul holds
 * the state, so its first answers after the outage are the new history's.
 */
import {expect} from 'chai'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ConsulApi, encodeValue} from '../../src/cluster/consul-api.js'
import {PartitionWatch, type CatalogEvent} from '../../src/cluster/partition-watch.js'
import {useConsul} from '../helpers/consul-suite.js'
import {startConsulHttpProxy, type ConsulHttpProxy} from '../helpers/consul-http-proxy.js'
import {recordingLogger, waitFor} from './catalog-fixtures.js'

// Writes before the state in the old Consul, so a fresh one can be brought up to its index.
const FILLERS_BEFORE = 30
// Another raft write may slip in between the last filler and the state: rebuild and try again.
const ATTEMPTS_MAX = 3

describe('partition watch across a rebuilt Consul (real Consul)', function () {
  this.timeout(180_000)
  const consul = useConsul({
    stopFirst: async () => {
      proxy?.release()
      await watch?.stop()
      await proxy?.close()
      api?.close()
    },
  })
  let api: ConsulApi
  let proxy: ConsulHttpProxy
  let watch: PartitionWatch | undefined

  before(async function () {
    api = new ConsulApi(consul().url, 5_000)
    proxy = await startConsulHttpProxy(consul().url)
  })

  const keys = new ClusterKeys('rebuilt-catalog')
  const state = (isr: string[]) => JSON.stringify({version: 1, replicas: ['n1'], leader: 'n1', leaderEpoch: 0, isr, epoch: 1, partitionEpoch: 0})

  async function write(key: string, value: string): Promise<number> {
    const result = await api.transaction([{KV: {Verb: 'set', Key: key, Value: encodeValue(value)}}])
    if (!result.ok) throw new Error(`could not write ${key}: ${result.errors.join('; ')}`)
    return result.results[0]!.modifyIndex
  }

  /** In a fresh Consul: the topic, fillers up to just below `modifyIndex`, then the state at it; false if another write slipped in. */
  async function writeStateAt(modifyIndex: number, value: string): Promise<boolean> {
    let index = await write(keys.topic('t'), JSON.stringify({version: 1, name: 't'}))
    for (let filler = 0; index < modifyIndex - 1; filler += 1) index = await write(`${keys.prefix}filler-${filler}`, 'x')
    if (index !== modifyIndex - 1) return false
    return (await write(keys.partition('t', 0), value)) === modifyIndex
  }

  it('judges again a state that came back at an index it had seen, with another value', async function () {
    for (let filler = 0; filler < FILLERS_BEFORE; filler += 1) await write(`${keys.prefix}filler-${filler}`, 'x')
    await write(keys.topic('t'), JSON.stringify({version: 1, name: 't'}))
    const oldIndex = await write(keys.partition('t', 0), state(['n1']))
    // Partition 1 only in the old history: the prefix's index (its highest ModifyIndex) goes
    // backwards in the new one, which is how a watch can tell the histories apart.
    await write(keys.partition('t', 1), state(['n1']))
    const events: CatalogEvent[] = []
    watch = new PartitionWatch({api: new ConsulApi(proxy.url, 5_000), keys, nodeId: 'n1', logger: recordingLogger(), onEvent: (event) => events.push(event)})
    watch.start()
    const isrs = () => events.flatMap((event) => (event.kind === 'partition-changed' ? [event.stored.state.isr] : []))
    await waitFor('the states of the old Consul', () => isrs().length === 2)

    proxy.hold(() => true)
    let arranged = false
    for (let attempt = 0; attempt < ATTEMPTS_MAX && !arranged; attempt += 1) {
      await consul().restart()
      arranged = await writeStateAt(oldIndex, state([]))
    }
    expect(arranged, `the rebuilt Consul holds the state at index ${oldIndex} again`).to.equal(true)
    proxy.release()

    await waitFor('the state of the rebuilt Consul', () => isrs().length === 3, 30_000)
    expect(isrs()).to.deep.equal([['n1'], ['n1'], []])
    expect(events.filter((event) => event.kind === 'topic-deleted'), 'the topic was never taken for deleted').to.deep.equal([])
  })
})
