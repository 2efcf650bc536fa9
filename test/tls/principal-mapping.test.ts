import {expect} from 'chai'
import {X509Certificate} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import type {PeerCertificate} from 'node:tls'
import {LignumError} from '../../src/errors.js'
import {coerceSetting} from '../../src/config/schema.js'
import {distinguishedNameOf, MAPPED_CERTIFICATES_MAX, mapPrincipal, parsePrincipalMapping, principalOfPeerCertificate, splitMappingRules, subjectAlternativeNamesOf, type CertificateNames} from '../../src/tls/principal-mapping.js'
import {makeCa} from '../helpers/certificates.js'

function namesOf(dn: string, sans: CertificateNames['sans'] = []): CertificateNames {
  // The certificate's order is the RFC 2253 string's reversed.
  const subjectFields = dn.split(/(?<!\\),/).reverse()
  return {subjectFields, sans, commonName: /^CN=([^,]*)/.exec(dn)?.[1]}
}

function mapped(rules: string, dn: string, sans: CertificateNames['sans'] = []): string | undefined | 'no match' {
  const result = mapPrincipal(parsePrincipalMapping(splitMappingRules(rules)), namesOf(dn, sans))
  return result ? result.principal : 'no match'
}

describe('principal mapping rules (Kafka ssl.principal.mapping.rules)', () => {
  it('splits rules on commas without splitting a regex that holds one', () => {
    expect(splitMappingRules('RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT')).to.deep.equal(['RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/', 'DEFAULT'])
    expect(splitMappingRules(' RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L ,\n RULE:^.*[Cc]=([a-z]*).*$/$1/U, DEFAULT ')).to.deep.equal(['RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L', 'RULE:^.*[Cc]=([a-z]*).*$/$1/U', 'DEFAULT'])
    expect(splitMappingRules('')).to.deep.equal([])
  })

  it('maps Kafka\'s documented examples', () => {
    const serviceUsers = 'RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT'
    expect(mapped(serviceUsers, 'CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown')).to.equal('serviceuser')
    expect(mapped('RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L', 'CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown')).to.equal('adminuser@admin')
    expect(mapped('RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U', 'CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown')).to.equal('ADMINUSER@ADMIN')
    // DEFAULT is the CN here (Lignum's principal before rules), where Kafka's is the whole DN.
    expect(mapped(serviceUsers, 'CN=bob,OU=People,O=Acme')).to.equal('bob')
    expect(mapped('DEFAULT', 'OU=People,O=Acme')).to.equal(undefined)
  })

  it('says when no rule matches (the regex must match the whole DN), tries rules in order, and quotes with \\', () => {
    expect(mapped('RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/', 'CN=bob,OU=People,O=Acme')).to.equal('no match')
    expect(mapped('RULE:CN=(bob)/$1/', 'CN=bob,O=Acme')).to.equal('no match')
    expect(mapped('RULE:^CN=(.*?),O=.*$/first-$1/,RULE:^CN=(.*)$/second-$1/', 'CN=bob,O=Acme')).to.equal('first-bob')
    expect(mapped('RULE:^CN=([^,]*),O=(.*)$/$2\\/$1\\$3/', 'CN=bob,O=Acme')).to.equal('Acme/bob$3')
  })

  it('maps from a subject alternative name of the type a SAN rule names', () => {
    const sans = subjectAlternativeNamesOf('DNS:bob.acme.test, URI:spiffe://acme/ns/billing/sa/bob, IP Address:10.0.0.9, email:"bob,jr@acme.test"')
    expect(sans).to.deep.equal([{type: 'DNS', value: 'bob.acme.test'}, {type: 'URI', value: 'spiffe://acme/ns/billing/sa/bob'}, {type: 'IP', value: '10.0.0.9'}, {type: 'EMAIL', value: 'bob,jr@acme.test'}])
    expect(mapped(String.raw`SAN:URI:^spiffe:\/\/acme\/ns\/([^\/]+)\/sa\/([^\/]+)$/$1-$2/,DEFAULT`, 'CN=bob', sans)).to.equal('billing-bob')
    expect(mapped('SAN:DNS:^(.*)\\.acme\\.test$/$1/U', 'CN=x', sans)).to.equal('BOB')
    expect(mapped(String.raw`SAN:URI:^spiffe:\/\/other\/.*$/x/`, 'CN=bob', sans)).to.equal('no match')
  })

  it('builds the RFC 2253 DN of a real certificate most specific first, escaped', async () => {
    const ca = await makeCa('mapping-ca')
    const files = await ca.issue('alice', {subject: '/C=US/O=Acme/OU=eng/OU=ops/CN=alice, jr'})
    const subjectFields = new X509Certificate(await readFile(files.cert)).subject.split('\n')
    expect(distinguishedNameOf(subjectFields)).to.equal('CN=alice\\, jr,OU=ops,OU=eng,O=Acme,C=US')
  })

  it('maps each peer certificate by its own names, and keeps at most MAPPED_CERTIFICATES_MAX answers', async () => {
    const ca = await makeCa('cache-ca')
    const peerOf = async (commonName: string, subject: string, subjectAltName: string) =>
      new X509Certificate(await readFile((await ca.issue(commonName, {subject, subjectAltName})).cert)).toLegacyObject() as unknown as PeerCertificate
    const alice = await peerOf('alice', '/O=Acme/OU=Eng/CN=alice', 'DNS:alice.acme.test')
    const bob = await peerOf('bob', '/O=Acme/CN=bob', String.raw`URI:spiffe://acme/ns/billing/sa/bob`)
    const mapping = parsePrincipalMapping(splitMappingRules(String.raw`RULE:^CN=([^,]*),OU=([^,]*),O=Acme$/$2-$1/L,SAN:URI:^spiffe:\/\/acme\/ns\/([^\/]+)\/sa\/([^\/]+)$/$1-$2/`))
    for (let round = 0; round < 2; round++) {
      expect(principalOfPeerCertificate(mapping, alice)).to.deep.equal({principal: 'eng-alice'})
      expect(principalOfPeerCertificate(mapping, bob)).to.deep.equal({principal: 'billing-bob'})
    }
    for (let index = 0; index < MAPPED_CERTIFICATES_MAX + 10; index++) principalOfPeerCertificate(mapping, {...alice, fingerprint256: `fake-${index}`})
    expect(mapping.mapped!.size).to.equal(MAPPED_CERTIFICATES_MAX)
    expect(principalOfPeerCertificate(mapping, bob)).to.deep.equal({principal: 'billing-bob'})
  })

  it('refuses a bad rule with one line naming it and the syntax', () => {
    const refusal = (rules: string) => {
      try {
        parsePrincipalMapping(splitMappingRules(rules))
      } catch (error) {
        expect(error).to.be.instanceOf(LignumError)
        expect((error as LignumError).code).to.equal('CONFIG')
        return (error as Error).message
      }
      throw new Error(`${rules} was accepted`)
    }
    expect(refusal('RULE:^CN=(.*)$/$1')).to.equal('invalid tls.principalMappingRules rule "RULE:^CN=(.*)$/$1": expected DEFAULT, RULE:<regex>/<replacement>/[L|U] or SAN:<DNS|URI|IP|EMAIL>:<regex>/<replacement>/[L|U], comma-separated')
    expect(refusal('DEFAULT,RULE:^CN=(.*$/$1/')).to.match(/^invalid tls.principalMappingRules rule "RULE:\^CN=\(\.\*\$\/\$1\/": its regex does not compile \(.*\); expected DEFAULT/)
    expect(refusal('RULE:x/y/Q')).to.match(/rule "RULE:x\/y\/Q": expected/)
    expect(refusal('SAN:FOO:x/y/')).to.match(/rule "SAN:FOO:x\/y\/": expected/)
    expect(refusal('DEFAULTS')).to.match(/rule "DEFAULTS": expected/)
  })

  it('reads the setting from a file as a list or from a flag as comma-separated text', () => {
    expect(coerceSetting('tlsPrincipalMappingRules', ['RULE:^CN=(.*?),OU=x$/$1/', 'DEFAULT'], 'a file')).to.deep.equal(['RULE:^CN=(.*?),OU=x$/$1/', 'DEFAULT'])
    expect(coerceSetting('tlsPrincipalMappingRules', 'RULE:^CN=(.*?),OU=x$/$1/,DEFAULT', 'a flag')).to.deep.equal(['RULE:^CN=(.*?),OU=x$/$1/', 'DEFAULT'])
    expect(() => coerceSetting('tlsPrincipalMappingRules', 5, 'a file')).to.throw(/invalid tlsPrincipalMappingRules=5 in a file: expected rules/)
  })
})
