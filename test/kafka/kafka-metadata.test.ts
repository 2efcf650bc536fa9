import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'
import {serverForSuite} from '../helpers/server.js'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {KafkaReader} from '../../src/kafka/protocol/kafka-reader.js'
import {KafkaWireClient} from './kafka-wire-client.js'

const METADATA = 3

describe('kafka listener: Metadata', () => {
  const suite = serverForSuite({args: ['--kafka-port', '0', '--node-id', 'n7']})
  let tools: KafkaTools

  before(async function () {
    tools = await requireKafkaTools(this)
    for (const [name, partitions] of [['orders', '3'], ['audit', '1']] as const) {
      const created = await runCli(['topics', 'create', name, '--partitions', partitions, ...suite.brokers])
      expect(created.code, created.stderr).to.equal(0)
    }
  })

  it("lists the node's topics through Kafka's own admin client (kafka-topics --list)", async () => {
    const listed = await runKafkaTool(tools, 'org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', suite.server.kafkaAddress!, '--list'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(listed.stdout.trim().split('\n').sort()).to.deep.equal(['audit', 'orders'])
  })

  it('names the node as broker, controller and leader by the number its id ends with (v1 and v12)', async () => {
    const [host, port] = suite.server.kafkaAddress!.split(':') as [string, string]
    const client = await KafkaWireClient.connect(Number(port))
    try {
      client.send(METADATA, 1, 1, new KafkaWriter().flexibleArray(false, ['orders', 'missing'], (w, name) => w.nullableString(name)).toBuffer())
      const v1 = new KafkaReader((await client.next())!)
      expect(v1.int32()).to.equal(1)
      expect(v1.flexibleArray(false, (r) => ({id: r.int32(), host: r.string(), port: r.int32(), rack: r.nullableString()}))).to.deep.equal([{id: 7, host, port: Number(port), rack: null}])
      expect(v1.int32()).to.equal(7) // controller
      const topics = v1.flexibleArray(false, (r) => ({
        error: r.int16(),
        name: r.string(),
        internal: r.boolean(),
        partitions: r.flexibleArray(false, (p) => ({error: p.int16(), index: p.int32(), leader: p.int32(), replicas: p.flexibleArray(false, (x) => x.int32()), isr: p.flexibleArray(false, (x) => x.int32())})),
      }))
      expect(v1.remainingBytes).to.equal(0)
      expect(topics[0]).to.deep.equal({error: 0, name: 'orders', internal: false, partitions: [0, 1, 2].map((index) => ({error: 0, index, leader: 7, replicas: [7], isr: [7]}))})
      // Metadata v1 asks to auto-create; the topic is created as a produce would create it.
      expect(topics[1]?.name).to.equal('missing')

      const v12 = new KafkaWriter().flexibleArray(true, ['audit'], (w, name) => w.uuid(Buffer.alloc(16)).compactNullableString(name).emptyTaggedFields()).boolean(false).boolean(false).emptyTaggedFields()
      client.send(METADATA, 12, 2, v12.toBuffer(), true)
      const response = new KafkaReader((await client.next())!)
      expect(response.int32()).to.equal(2)
      response.skipTaggedFields()
      expect(response.int32()).to.equal(0) // throttle
      const brokers = response.flexibleArray(true, (r) => {
        const broker = {id: r.int32(), host: r.compactString(), port: r.int32(), rack: r.compactNullableString()}
        r.skipTaggedFields()
        return broker
      })
      expect(brokers).to.deep.equal([{id: 7, host, port: Number(port), rack: null}])
      expect(response.compactNullableString()).to.equal('standalone')
      expect(response.int32()).to.equal(7)
      const [audit] = response.flexibleArray(true, (r) => {
        const topic = {error: r.int16(), name: r.compactNullableString(), id: r.uuid(), internal: r.boolean(), partitions: r.flexibleArray(true, (p) => {
          const partition = {error: p.int16(), index: p.int32(), leader: p.int32(), epoch: p.int32(), replicas: p.flexibleArray(true, (x) => x.int32()), isr: p.flexibleArray(true, (x) => x.int32()), offline: p.flexibleArray(true, (x) => x.int32())}
          p.skipTaggedFields()
          return partition
        }), operations: r.int32()}
        r.skipTaggedFields()
        return topic
      })
      response.skipTaggedFields()
      expect(response.remainingBytes).to.equal(0)
      expect(audit).to.deep.include({error: 0, name: 'audit', internal: false})
      expect(audit?.partitions).to.deep.equal([{error: 0, index: 0, leader: 7, epoch: 0, replicas: [7], isr: [7], offline: []}])
    } finally {
      client.close()
    }
  })
})
