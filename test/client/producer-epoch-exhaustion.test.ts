/**
 * A producer whose epochs run out on a partition, against a real `lignum serve`: every batch
 * refused for good (here larger than the node's batchBytesMax) starts the partition's next
 * epoch, and the epoch is an int16. The failure at epoch 32,767 must not leave the partition
 * stuck at a gap it cannot close: it moves to a new producer id at epoch 0 and sequence 0, as
 * Kafka's producer asks InitProducerId for one, and its next batch is stored under it.
 */
import {expect} from 'chai'
import {WireClient} from '../../src/client/index.js'
import {runCli} from '../helpers/cli.js'
import {ServeProcess} from '../cluster/serve-process.js'

const PRODUCER_EPOCH_MAX = 0x7fff
const BATCH_BYTES_MAX = 1024
const TOPIC = 'exhausted'

interface DumpedProducerBatch {
  baseOffset: number
  producerId: number
  producerEpoch: number
  baseSequence: number
}

describe('a producer that exhausts its epochs on a partition (real node)', function () {
  this.timeout(300_000)
  let node: ServeProcess | undefined

  after(async () => {
    await node?.destroy()
  })

  it(`moves the partition to a new producer id at epoch 0 once a failure at epoch ${PRODUCER_EPOCH_MAX} would pass the int16 range, and stores its next batch there`, async () => {
    node = await ServeProcess.start({cluster: 'none', nodeId: 'solo', sessionTtlMs: 10_000, lockDelayMs: 1_000, env: {LIGNUM_BATCH_BYTES_MAX: String(BATCH_BYTES_MAX)}})
    const client = await WireClient.connect({brokers: node.address})
    const producer = client.producer({acks: 1, maxInFlight: 1})
    try {
      await producer.send(TOPIC, {partition: 0, value: 'first'})
      const firstId = producer.producerIdOf(TOPIC, 0)
      const oversized = Buffer.alloc(BATCH_BYTES_MAX * 2, 0x61)
      // A producer that has not learned the node's batch limit (one whose metadata predates a
      // lowered limit) sends the oversized batch, and the node refuses it: the failure that
      // costs an epoch. One that knows the limit refuses such a record itself, costing none.
      ;(producer as unknown as {routes: {batchBytesMax: number | undefined}}).routes.batchBytesMax = undefined
      // One refused batch per epoch, 0 through 32,767: the last failure exhausts the range.
      for (let epoch = 0; epoch <= PRODUCER_EPOCH_MAX; epoch++) {
        const refused = await producer.send(TOPIC, {partition: 0, value: oversized}).then(() => undefined, (error: {code?: string}) => error.code)
        expect(refused, `the oversized batch at epoch ${epoch}`).to.equal('RECORD_TOO_LARGE')
      }
      const after = await producer.send(TOPIC, {partition: 0, value: 'after'})
      expect(after.offset).to.equal(1)
      expect(producer.producerIdOf(TOPIC, 0), 'a new producer id for the partition').to.not.equal(firstId)
      await producer.close()
    } finally {
      client.close()
    }
    await node.stop()
    const inspected = await runCli(['segments', 'inspect', '--data-dir', node.dataDir, '--topic', TOPIC, '--partition', '0', '--dump', '--json'])
    expect(inspected.code, inspected.stderr).to.equal(0)
    const report = JSON.parse(inspected.stdout) as {partitions: {segments: {batches: DumpedProducerBatch[]}[]}[]}
    const batches = report.partitions.flatMap((stored) => stored.segments.flatMap((segment) => segment.batches))
    expect(batches.map(({producerEpoch, baseSequence}) => ({producerEpoch, baseSequence}))).to.deep.equal([{producerEpoch: 0, baseSequence: 0}, {producerEpoch: 0, baseSequence: 0}])
    expect(batches[1]!.producerId).to.not.equal(batches[0]!.producerId)
  })
})
