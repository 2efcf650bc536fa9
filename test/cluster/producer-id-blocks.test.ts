/**
 * Producer id blocks against a real Consul: reservers in one process and in several processes
 * race for the same key, and no id is ever handed out twice.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {ConsulApi} from '../../src/cluster/consul-api.js'
import {PRODUCER_ID_BLOCK_SIZE, ProducerIdBlocks, producerIdBlockKey} from '../../src/cluster/producer-id-blocks.js'
import {useConsul} from '../helpers/consul-suite.js'

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'producer-id-reserver.ts')
// Small blocks, so every reserver runs out many times and the check-and-set races are many.
const SMALL_BLOCK = 7

function expectDistinct(ids: number[]): void {
  expect(new Set(ids).size, 'distinct ids').to.equal(ids.length)
}

function runReserver(options: {consulUrl: string; cluster: string; count: number; blockSize: number; concurrency: number}): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(options)], {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout) as number[]) : reject(new Error(`reserver exited ${code}: ${stderr}`))))
  })
}

describe('producer id blocks (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({
    stopFirst: async () => {
      for (const api of apis) api.close()
    },
  })
  const apis: ConsulApi[] = []
  let clusterCount = 0

  function reserver(cluster: string, blockSize = SMALL_BLOCK): ProducerIdBlocks {
    const api = new ConsulApi(consul().url, 10_000)
    apis.push(api)
    return new ProducerIdBlocks(api, producerIdBlockKey(new ClusterKeys(cluster)), blockSize)
  }

  function nextCluster(): string {
    clusterCount++
    return `ids-${clusterCount}`
  }

  it('starts at 0, hands out a block in order, reserves the next block when it runs out, and records the next free start in Consul', async () => {
    const cluster = nextCluster()
    const blocks = reserver(cluster, PRODUCER_ID_BLOCK_SIZE)
    const ids = []
    for (let index = 0; index < PRODUCER_ID_BLOCK_SIZE + 1; index++) ids.push(await blocks.nextId())
    expect(ids).to.deep.equal(Array.from({length: PRODUCER_ID_BLOCK_SIZE + 1}, (_, index) => index))
    expect(blocks.currentBlock).to.deep.equal({start: PRODUCER_ID_BLOCK_SIZE, end: 2 * PRODUCER_ID_BLOCK_SIZE})
    const api = new ConsulApi(consul().url, 10_000)
    apis.push(api)
    expect((await api.kvGet(producerIdBlockKey(new ClusterKeys(cluster))))?.value).to.equal(String(2 * PRODUCER_ID_BLOCK_SIZE))
    // Another node (or this one restarted) starts past every reserved block.
    expect(await reserver(cluster, PRODUCER_ID_BLOCK_SIZE).nextId()).to.equal(2 * PRODUCER_ID_BLOCK_SIZE)
  })

  it('never hands out one id twice across reservers racing in one process', async () => {
    const cluster = nextCluster()
    const reservers = Array.from({length: 4}, () => reserver(cluster))
    const ids = (await Promise.all(reservers.flatMap((blocks) => Array.from({length: 50}, () => blocks.nextId())))).flat()
    expect(ids).to.have.length(200)
    expectDistinct(ids)
  })

  it('never hands out one id twice across processes reserving at once', async () => {
    const cluster = nextCluster()
    const perProcess = 60
    const results = await Promise.all(Array.from({length: 4}, () => runReserver({consulUrl: consul().url, cluster, count: perProcess, blockSize: SMALL_BLOCK, concurrency: 3})))
    const ids = results.flat()
    expect(ids).to.have.length(4 * perProcess)
    expectDistinct(ids)
    for (const own of results) expect([...own].sort((a, b) => a - b), 'each process hands out its ids in increasing order').to.deep.equal(own)
  })

  it('refuses a key that does not hold a block start, saying not to edit it', async () => {
    const cluster = nextCluster()
    const api = new ConsulApi(consul().url, 10_000)
    apis.push(api)
    await api.transaction([{KV: {Verb: 'set', Key: producerIdBlockKey(new ClusterKeys(cluster)), Value: Buffer.from('twelve').toString('base64')}}])
    const error = await reserver(cluster).nextId().then(() => undefined, (caught: Error) => caught)
    expect(error?.message).to.match(/holds "twelve", not the start of the next producer id block/)
  })
})
