import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {requireKafkaTools, runKafkaTool, type KafkaTools} from '../helpers/kafka-tools.js'
import {serverForSuite} from '../helpers/server.js'
import {KafkaReader} from '../../src/kafka/protocol/kafka-reader.js'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'
import {KafkaWireClient} from './kafka-wire-client.js'

const CREATE_TOPICS = 19

describe('kafka listener: CreateTopics, DeleteTopics, DescribeConfigs', () => {
  const suite = serverForSuite({args: ['--kafka-port', '0', '--node-id', 'n7']})

  it("creates, describes and deletes a topic with Kafka 4.1.1's kafka-topics, seen by lignum topics", async function () {
    const tools: KafkaTools = await requireKafkaTools(this)
    const kafkaTopics = (args: string[]) => runKafkaTool(tools, 'org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', suite.server.kafkaAddress!, ...args])
    const created = await kafkaTopics(['--create', '--topic', 'made-by-kafka', '--partitions', '3', '--config', 'retention.ms=60000'])
    expect(created.code, created.stdout + created.stderr).to.equal(0)
    expect(created.stdout).to.include('Created topic made-by-kafka.')

    const listed = await runCli(['topics', 'list', ...suite.brokers])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(listed.stdout).to.include('made-by-kafka')
    const described = await runCli(['topics', 'describe', 'made-by-kafka', '--json', ...suite.brokers])
    expect(described.code, described.stderr).to.equal(0)
    expect(JSON.parse(described.stdout).partitions).to.have.length(3)

    const kafkaDescribed = await kafkaTopics(['--describe', '--topic', 'made-by-kafka'])
    expect(kafkaDescribed.code, kafkaDescribed.stderr).to.equal(0)
    expect(kafkaDescribed.stdout).to.match(/PartitionCount: 3/)
    expect(kafkaDescribed.stdout).to.include('retention.ms=60000')

    const again = await kafkaTopics(['--create', '--topic', 'made-by-kafka', '--partitions', '3'])
    expect(again.code).to.not.equal(0)
    expect(again.stdout + again.stderr).to.include('already exists')

    const deleted = await kafkaTopics(['--delete', '--topic', 'made-by-kafka'])
    expect(deleted.code, deleted.stderr).to.equal(0)
    const after = await runCli(['topics', 'list', ...suite.brokers])
    expect(after.code, after.stderr).to.equal(0)
    expect(after.stdout).to.not.include('made-by-kafka')
  })

  it('answers CreateTopics v7 byte for byte, each topic on its own, validate_only creating nothing', async () => {
    const port = Number(suite.server.kafkaAddress!.split(':')[1])
    const client = await KafkaWireClient.connect(port)
    try {
      const request = Buffer.concat([
        Buffer.from('02', 'hex'), // one topic
        Buffer.from('07', 'hex'), Buffer.from('golden'),
        Buffer.from('00000002' + 'ffff' + '01' + '02', 'hex'), // 2 partitions, default replication, no assignments, one config
        Buffer.from('0d', 'hex'), Buffer.from('retention.ms'), Buffer.from('06', 'hex'), Buffer.from('60000'), Buffer.from('00', 'hex'),
        Buffer.from('00' + '00007530' + '00' + '00', 'hex'), // topic tags, timeout 30000 ms, validate_only false, tags
      ])
      client.send(CREATE_TOPICS, 7, 5, request, true)
      const expected = Buffer.concat([
        Buffer.from('00000005' + '00' + '00000000' + '02', 'hex'), // correlation id, header tags, throttle, one topic
        Buffer.from('07', 'hex'), Buffer.from('golden'),
        Buffer.alloc(16), // topic id: Lignum's topics have none
        Buffer.from('0000' + '00' + '00000002' + '0001' + '01' + '00' + '00', 'hex'), // no error, null message, 2 partitions, 1 replica, no configs, tags
      ])
      expect((await client.next())!.toString('hex')).to.equal(expected.toString('hex'))

      const answers = async (correlationId: number, topics: {name: string; partitions: number; replicationFactor: number; configs: [string, string][]}[], validateOnly: boolean) => {
        const body = new KafkaWriter().flexibleArray(true, topics, (w, topic) => {
          w.compactNullableString(topic.name).int32(topic.partitions).int16(topic.replicationFactor).flexibleArray(true, [], () => {})
          w.flexibleArray(true, topic.configs, (c, [name, value]) => c.compactNullableString(name).compactNullableString(value).emptyTaggedFields()).emptyTaggedFields()
        }).int32(30_000).boolean(validateOnly).emptyTaggedFields()
        client.send(CREATE_TOPICS, 7, correlationId, body.toBuffer(), true)
        const response = new KafkaReader((await client.next())!)
        expect(response.int32()).to.equal(correlationId)
        response.skipTaggedFields()
        response.int32()
        return response.flexibleArray(true, (r) => {
          const answer = {name: r.compactString(), error: (r.uuid(), r.int16()), message: r.compactNullableString(), partitions: r.int32(), replicationFactor: r.int16()}
          r.flexibleNullableArray(true, () => undefined)
          r.skipTaggedFields()
          return answer
        })
      }
      const mixed = await answers(6, [
        {name: 'golden', partitions: 1, replicationFactor: -1, configs: []},
        {name: 'zero', partitions: 0, replicationFactor: -1, configs: []},
        {name: 'three-copies', partitions: 1, replicationFactor: 3, configs: []},
        {name: 'odd-config', partitions: 1, replicationFactor: -1, configs: [['cleanup.policy', 'compact']]},
        {name: 'only-checked', partitions: 4, replicationFactor: -1, configs: [['segment.bytes', '1048576']]},
      ], true)
      expect(mixed.map((answer) => [answer.name, answer.error])).to.deep.equal([['golden', 36], ['zero', 37], ['three-copies', 38], ['odd-config', 40], ['only-checked', 0]])
      expect(mixed[3]!.message).to.include('cleanup.policy')
      const listed = await runCli(['topics', 'list', ...suite.brokers])
      expect(listed.stdout).to.include('golden')
      expect(listed.stdout).to.not.include('only-checked')
    } finally {
      client.close()
    }
  })
})
