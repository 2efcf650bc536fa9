/** The casbin-backed authorizer: Kafka's ACL semantics, one rule set at a time. */
import {expect} from 'chai'
import {parseRule, type AclRule} from '../../src/acl/acl-rule.js'
import {Authorizer} from '../../src/acl/authorizer.js'

function rule(fields: Partial<AclRule> & Pick<AclRule, 'principal' | 'operation'>): AclRule {
  return parseRule({permission: 'allow', resourceType: 'topic', resourceName: 'orders', ...fields}, 'test rule')
}

const orders = {type: 'topic', name: 'orders'} as const

describe('Authorizer (casbin)', () => {
  it('denies when no rule matches, and allows what a rule allows, only that', async () => {
    const authorizer = await Authorizer.create([rule({principal: 'alice', operation: 'produce'})], [])
    expect(authorizer.allows('alice', 'produce', orders)).to.equal(true)
    expect(authorizer.allows('alice', 'consume', orders)).to.equal(false)
    expect(authorizer.allows('bob', 'produce', orders)).to.equal(false)
    expect(authorizer.allows('alice', 'produce', {type: 'topic', name: 'orders2'})).to.equal(false)
    expect(authorizer.allows('alice', 'produce', {type: 'group', name: 'orders'})).to.equal(false)
    expect((await Authorizer.create([], [])).allows('alice', 'describe', orders)).to.equal(false)
  })

  it('lets a deny rule win over an allow rule, whatever their order', async () => {
    const allow = rule({principal: 'alice', operation: 'produce'})
    const deny = rule({principal: 'alice', operation: 'produce', permission: 'deny'})
    for (const rules of [[allow, deny], [deny, allow]]) {
      expect((await Authorizer.create(rules, [])).allows('alice', 'produce', orders)).to.equal(false)
    }
    const everyoneDenied = await Authorizer.create([allow, rule({principal: '*', operation: 'produce', permission: 'deny', resourceName: 'ord', patternType: 'prefixed'})], [])
    expect(everyoneDenied.allows('alice', 'produce', orders)).to.equal(false)
  })

  it('matches a prefix rule on names that start with it, and nothing else', async () => {
    const authorizer = await Authorizer.create([rule({principal: 'alice', operation: 'consume', resourceName: 'orders-', patternType: 'prefixed'})], [])
    expect(authorizer.allows('alice', 'consume', {type: 'topic', name: 'orders-eu'})).to.equal(true)
    expect(authorizer.allows('alice', 'consume', {type: 'topic', name: 'orders-'})).to.equal(true)
    expect(authorizer.allows('alice', 'consume', {type: 'topic', name: 'orders'})).to.equal(false)
    expect(authorizer.allows('alice', 'consume', {type: 'topic', name: 'xorders-eu'})).to.equal(false)
  })

  it('applies a rule for principal * to everyone, ANONYMOUS included, and a literal * name to every name', async () => {
    const authorizer = await Authorizer.create([rule({principal: '*', operation: 'describe', resourceName: '*'})], [])
    expect(authorizer.allows('ANONYMOUS', 'describe', orders)).to.equal(true)
    expect(authorizer.allows('zoe', 'describe', {type: 'topic', name: 'anything'})).to.equal(true)
    expect(authorizer.allows('zoe', 'produce', orders)).to.equal(false)
    // `*` as a principal is the wildcard only in a rule: a principal named "x" is not "*".
    const onlyStar = await Authorizer.create([rule({principal: 'alice', operation: 'produce'})], [])
    expect(onlyStar.allows('*', 'produce', orders)).to.equal(false)
  })

  it('allows super users everything, deny rules included, and no one else by that', async () => {
    const authorizer = await Authorizer.create([rule({principal: 'node-1', operation: 'admin', permission: 'deny', resourceType: 'cluster', resourceName: 'cluster'})], ['node-1'])
    expect(authorizer.allows('node-1', 'admin', {type: 'cluster', name: 'cluster'})).to.equal(true)
    expect(authorizer.allows('node-1', 'delete', orders)).to.equal(true)
    expect(authorizer.allows('node-2', 'admin', {type: 'cluster', name: 'cluster'})).to.equal(false)
  })

  it('lets an allow of produce, consume, delete or alter imply describe, but a deny of produce does not deny describe', async () => {
    for (const operation of ['produce', 'consume', 'delete', 'alter'] as const) {
      expect((await Authorizer.create([rule({principal: 'alice', operation})], [])).allows('alice', 'describe', orders), operation).to.equal(true)
    }
    expect((await Authorizer.create([rule({principal: 'alice', operation: 'create'})], [])).allows('alice', 'describe', orders)).to.equal(false)
    const deniedProduce = await Authorizer.create([rule({principal: 'alice', operation: 'describe'}), rule({principal: 'alice', operation: 'produce', permission: 'deny'})], [])
    expect(deniedProduce.allows('alice', 'describe', orders)).to.equal(true)
    expect(deniedProduce.allows('alice', 'produce', orders)).to.equal(false)
  })

  it('reports whether a principal may produce somewhere (InitProducerId)', async () => {
    const authorizer = await Authorizer.create([rule({principal: 'alice', operation: 'produce'})], ['root'])
    expect(authorizer.allowsSomewhere('alice', 'produce', 'topic')).to.equal(true)
    expect(authorizer.allowsSomewhere('bob', 'produce', 'topic')).to.equal(false)
    expect(authorizer.allowsSomewhere('root', 'produce', 'topic')).to.equal(true)
  })

  it('refuses a malformed rule with one line naming the field', () => {
    expect(() => parseRule({principal: 'a', permission: 'allow', operation: 'write', resourceType: 'topic', resourceName: 't'}, 'entry 1')).to.throw(/entry 1 has operation "write"; use one of produce, consume/)
    expect(() => parseRule({principal: 'a', permission: 'allow', operation: 'produce', resourceType: 'topic', resourceName: 'o*', patternType: 'prefixed'}, 'entry 2')).to.throw(/a prefix is plain text/)
    expect(() => parseRule({principal: 'a', permission: 'allow', operation: 'produce', resourceType: 'cluster', resourceName: 'x'}, 'entry 3')).to.throw(/has one name/)
  })
})
