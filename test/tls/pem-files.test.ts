/**
 * The checks every TLS file passes before it is used (at start, at every rotation, in the
 * client): each refusal is a CONFIG error that names the file and says what to give instead.
 */
import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import {LignumError} from '../../src/errors.js'
import {checkPem, commonNameOf, readPem} from '../../src/tls/pem-files.js'
import {makeCa, type TestCa} from '../helpers/certificates.js'

describe('checking PEM files', function () {
  this.timeout(20_000)
  let ca: TestCa
  let node: {cert: Buffer; key: Buffer}
  let other: {cert: Buffer; key: Buffer}
  const sources = {cert: 'tls.certFile node.pem', key: 'tls.keyFile node-key.pem', ca: 'tls.caFile ca.pem'}

  before(async () => {
    ca = await makeCa('pem-ca')
    const [nodeFiles, otherFiles] = [await ca.issue('node'), await ca.issue('other')]
    node = {cert: await readFile(nodeFiles.cert), key: await readFile(nodeFiles.key)}
    other = {cert: await readFile(otherFiles.cert), key: await readFile(otherFiles.key)}
  })

  function refusal(material: Parameters<typeof checkPem>[0]): string {
    try {
      checkPem(material, sources)
    } catch (error) {
      expect(error).to.be.instanceOf(LignumError)
      expect((error as LignumError).code).to.equal('CONFIG')
      return (error as LignumError).message
    }
    throw new Error('checkPem accepted the material')
  }

  it('accepts a certificate with its own key and a CA', async () => {
    const authority = await readFile(ca.cert)
    expect(() => checkPem({...node, ca: authority}, sources)).to.not.throw()
  })

  it('refuses a key that is not the certificate\'s, a half-written certificate, a key without a certificate and a CA file without a certificate', async () => {
    expect(refusal({cert: node.cert, key: other.key})).to.equal('tls.keyFile node-key.pem is not the private key of the certificate in tls.certFile node.pem; give the key the certificate was issued for')
    expect(refusal({cert: node.cert.subarray(0, 200), key: node.key})).to.match(/^tls\.certFile node\.pem holds no PEM certificate/)
    expect(refusal({cert: Buffer.from(node.cert.toString().replace(/[A-Za-z]{40}/, 'A'.repeat(40))), key: node.key})).to.match(/^tls\.certFile node\.pem holds a certificate that does not parse|is not the private key/)
    expect(refusal({cert: node.cert, key: Buffer.from('not a key')})).to.match(/^tls\.keyFile node-key\.pem holds no private key that parses/)
    expect(refusal({key: node.key})).to.match(/^a certificate needs its private key and a key its certificate/)
    expect(refusal({ca: node.key})).to.match(/^tls\.caFile ca\.pem holds no PEM certificate/)
  })

  it('names a missing file and the setting it came from', async () => {
    const message = await readPem(`${ca.dir}/missing.pem`, 'tls.certFile').catch((error: LignumError) => error.message)
    expect(message).to.equal(`cannot read tls.certFile ${ca.dir}/missing.pem: no such file; give the path of a PEM file`)
    await writeFile(`${ca.dir}/present.pem`, node.cert)
    expect((await readPem(`${ca.dir}/present.pem`, 'tls.certFile')).equals(node.cert)).to.equal(true)
  })

  it('takes the common name from a subject in either of node\'s shapes', () => {
    expect(commonNameOf({CN: 'alice', O: 'lignum'})).to.equal('alice')
    expect(commonNameOf('O=lignum\nCN=bob')).to.equal('bob')
    expect(commonNameOf({O: 'lignum'})).to.equal(undefined)
    expect(commonNameOf(undefined)).to.equal(undefined)
  })
})
