import {expect} from 'chai'
import {runCli} from '../helpers/cli.js'
import {serverForSuite} from '../helpers/server.js'
import {KafkaReader} from '../../src/kafka/protocol/kafka-reader.js'
import {KafkaWireClient} from './kafka-wire-client.js'

const OFFSET_COMMIT = 8
const OFFSET_FETCH = 9
const FIND_COORDINATOR = 10
const JOIN_GROUP = 11

const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex')
const compact = (text: string) => (text.length + 1).toString(16).padStart(2, '0') + hex(text)

describe('kafka listener: group APIs on the wire', () => {
  const suite = serverForSuite({args: ['--kafka-port', '0', '--node-id', 'n4']})
  let client: KafkaWireClient

  before(async () => {
    const created = await runCli(['topics', 'create', 'golden', '--partitions', '2', ...suite.brokers])
    expect(created.code, created.stderr).to.equal(0)
  })

  beforeEach(async () => {
    client = await KafkaWireClient.connect(Number(suite.server.kafkaAddress!.split(':')[1]))
  })

  afterEach(() => client.close())

  it('FindCoordinator v4 names this node for every key', async () => {
    // key_type 0, coordinator_keys [a, b], tags
    client.send(FIND_COORDINATOR, 4, 3, Buffer.from('00' + '03' + compact('a') + compact('b') + '00', 'hex'), true)
    const [host, port] = suite.server.kafkaAddress!.split(':') as [string, string]
    const portHex = Number(port).toString(16).padStart(8, '0')
    const each = (key: string) => compact(key) + '00000004' + compact(host) + portHex + '0000' + '00' + '00'
    expect((await client.next())!.toString('hex')).to.equal('00000003' + '00' + '00000000' + '03' + each('a') + each('b') + '00')
  })

  it('JoinGroup v9: a lone member is the leader of generation 1 and gets its own subscription back', async () => {
    const request =
      compact('g') + // group_id
      '00002710' + // session_timeout_ms 10000
      '00007530' + // rebalance_timeout_ms 30000
      '01' + // member_id "" (the coordinator assigns one)
      '00' + // group_instance_id null
      compact('consumer') + // protocol_type
      '02' + compact('range') + '04' + '000102' + '00' + // protocols [range, metadata 00 01 02]
      '00' + // reason null
      '00' // tags
    client.send(JOIN_GROUP, 9, 11, Buffer.from(request, 'hex'), true, 'golden')
    const response = (await client.next())!
    // The member id is the client id and a random UUID: read it where it sits, check it is that.
    const memberIdAt = 4 + 1 + 4 + 2 + 4 + 9 + 6
    const memberId = new KafkaReader(response.subarray(memberIdAt)).compactString()
    expect(memberId).to.match(/^golden-[0-9a-f-]{36}$/)
    expect(response.toString('hex')).to.equal(
      '0000000b' + // correlation id 11
        '00' + // header tags
        '00000000' + // throttle_time_ms
        '0000' + // error_code NONE
        '00000001' + // generation_id 1
        compact('consumer') + // protocol_type
        compact('range') + // protocol_name
        compact(memberId) + // leader: this member
        '00' + // skip_assignment false
        compact(memberId) + // member_id
        '02' + compact(memberId) + '00' + '04' + '000102' + '00' + // members [itself, no instance id, its metadata]
        '00', // tags
    )
  })

  it('OffsetCommit v8 stores a commit without membership, OffsetFetch v7 returns it, and a commit by a member the group does not know is fenced', async () => {
    const commit = (group: string, generation: string, memberId: string) =>
      compact(group) +
      generation + // generation_id_or_member_epoch
      compact(memberId) + // member_id
      '00' + // group_instance_id null
      '02' + compact('golden') + // topics [golden]
      '03' + // partitions [0, 1]
      '00000000' + '0000000000000005' + 'ffffffff' + compact('m') + '00' + // 0: offset 5, no epoch, metadata "m"
      '00000001' + '0000000000000007' + 'ffffffff' + '00' + '00' + // 1: offset 7, no epoch, metadata null
      '00' + // topic tags
      '00' // tags
    client.send(OFFSET_COMMIT, 8, 21, Buffer.from(commit('simple', 'ffffffff', ''), 'hex'), true)
    const answer = (error: string) => '00' + '00000000' + '02' + compact('golden') + '03' + '00000000' + error + '00' + '00000001' + error + '00' + '00' + '00'
    expect((await client.next())!.toString('hex')).to.equal('00000015' + answer('0000'))

    // topics null (every topic), require_stable false, tags
    client.send(OFFSET_FETCH, 7, 22, Buffer.from(compact('simple') + '00' + '00' + '00', 'hex'), true)
    const partition = (index: string, offset: string, metadata: string) => index + offset + 'ffffffff' + compact(metadata) + '0000' + '00'
    expect((await client.next())!.toString('hex')).to.equal('00000016' + '00' + '00000000' + '02' + compact('golden') + '03' + partition('00000000', '0000000000000005', 'm') + partition('00000001', '0000000000000007', '') + '00' + '0000' + '00')

    const described = await runCli(['groups', 'describe', 'simple', '--json', ...suite.brokers])
    expect(described.code, described.stderr).to.equal(0)
    const {offsets} = JSON.parse(described.stdout) as {offsets: {topic: string; partition: number; offset: number}[]}
    expect(offsets).to.deep.equal([{topic: 'golden', partition: 0, offset: 5}, {topic: 'golden', partition: 1, offset: 7}])

    // A member the group does not know: UNKNOWN_MEMBER_ID (25) on each partition, nothing stored.
    client.send(OFFSET_COMMIT, 8, 23, Buffer.from(commit('simple', '00000003', 'ghost'), 'hex'), true)
    expect((await client.next())!.toString('hex')).to.equal('00000017' + answer('0019'))
  })

  it('OffsetCommit v8 of a negative offset (-1, -2: "no offset") forgets the committed one: OffsetFetch v7 answers -1, groups describe shows none', async () => {
    const commit = (offset0: string, offset1: string) =>
      compact('unsetting') + 'ffffffff' + compact('') + '00' + // group, no generation, no member, no instance id
      '02' + compact('golden') + '03' + // topics [golden], partitions [0, 1]
      '00000000' + offset0 + 'ffffffff' + '00' + '00' +
      '00000001' + offset1 + 'ffffffff' + '00' + '00' +
      '00' + '00'
    const answer = (correlation: string) => correlation + '00' + '00000000' + '02' + compact('golden') + '03' + '00000000' + '0000' + '00' + '00000001' + '0000' + '00' + '00' + '00'
    client.send(OFFSET_COMMIT, 8, 31, Buffer.from(commit('0000000000000005', '0000000000000007'), 'hex'), true)
    expect((await client.next())!.toString('hex')).to.equal(answer('0000001f'))
    // -1 for partition 0 (Kafka's "no offset"); partition 1 keeps 7.
    client.send(OFFSET_COMMIT, 8, 32, Buffer.from(commit('ffffffffffffffff', '0000000000000007'), 'hex'), true)
    expect((await client.next())!.toString('hex')).to.equal(answer('00000020'))

    // topics [golden: partitions 0, 1], require_stable false, tags
    const fetch = compact('unsetting') + '02' + compact('golden') + '03' + '00000000' + '00000001' + '00' + '00' + '00'
    const partition = (index: string, offset: string) => index + offset + 'ffffffff' + compact('') + '0000' + '00'
    client.send(OFFSET_FETCH, 7, 33, Buffer.from(fetch, 'hex'), true)
    expect((await client.next())!.toString('hex')).to.equal('00000021' + '00' + '00000000' + '02' + compact('golden') + '03' + partition('00000000', 'ffffffffffffffff') + partition('00000001', '0000000000000007') + '00' + '0000' + '00')
    const described = await runCli(['groups', 'describe', 'unsetting', '--json', ...suite.brokers])
    expect(described.code, described.stderr).to.equal(0)
    expect((JSON.parse(described.stdout) as {offsets: unknown[]}).offsets).to.deep.equal([{topic: 'golden', partition: 1, offset: 7}])

    // -2 (kafkajs's "earliest" after OFFSET_OUT_OF_RANGE) is "no offset" as well.
    client.send(OFFSET_COMMIT, 8, 34, Buffer.from(commit('ffffffffffffffff', 'fffffffffffffffe'), 'hex'), true)
    expect((await client.next())!.toString('hex')).to.equal(answer('00000022'))
    client.send(OFFSET_FETCH, 7, 35, Buffer.from(fetch, 'hex'), true)
    expect((await client.next())!.toString('hex')).to.equal('00000023' + '00' + '00000000' + '02' + compact('golden') + '03' + partition('00000000', 'ffffffffffffffff') + partition('00000001', 'ffffffffffffffff') + '00' + '0000' + '00')
  })
})
