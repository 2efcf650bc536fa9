import {expect} from 'chai'
import {LignumError} from '../../src/errors.js'
import {parsePartitionDirName, partitionDirName, TOPIC_NAME_LENGTH_MAX, validateTopicName} from '../../src/log/topic-name.js'

describe('topic names', () => {
  it('accepts what Kafka accepts', () => {
    for (const name of ['orders', 'a', 'A.b_c-9', '..a', 'x'.repeat(TOPIC_NAME_LENGTH_MAX)]) expect(() => validateTopicName(name)).to.not.throw()
  })

  it('refuses names that could leave the data directory or that Kafka refuses, with INVALID_TOPIC', () => {
    for (const name of ['', '.', '..', '../etc', 'a/b', 'a\\b', 'spaced name', 'ü', 'x'.repeat(TOPIC_NAME_LENGTH_MAX + 1), 'nul\0']) {
      expect(() => validateTopicName(name), name).to.throw(LignumError).with.property('code', 'INVALID_TOPIC')
    }
  })

  it('says what is wrong in one line', () => {
    expect(() => validateTopicName('a/b')).to.throw(/characters outside \[A-Za-z0-9._-\]/)
    expect(() => validateTopicName('x'.repeat(300))).to.throw(/300 characters long; shorten it to at most 249/)
  })

  it('builds and parses <topic>-<partition>', () => {
    expect(partitionDirName('my-topic', 12)).to.equal('my-topic-12')
    expect(parsePartitionDirName('my-topic-12')).to.deep.equal({topic: 'my-topic', partition: 12})
    for (const name of ['orders', 'orders-', 'orders-01', '-1', '..-0', 'a b-0', 'orders-99999999999']) expect(parsePartitionDirName(name), name).to.equal(null)
    expect(() => partitionDirName('ok', -1)).to.throw(LignumError)
    expect(() => partitionDirName('../x', 0)).to.throw(LignumError)
  })
})
