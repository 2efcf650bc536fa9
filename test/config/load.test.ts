import {expect} from 'chai'
import {mkdir, mkdtemp, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {loadConfig} from '../../src/config/load.js'
import {LignumError} from '../../src/errors.js'

describe('configuration', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-config-'))
  })

  it('has defaults for a standalone node', async () => {
    const {config, filepath} = await loadConfig({cwd: dir, env: {}})
    expect(filepath).to.equal(undefined)
    expect(config).to.include({dataDir: './lignum-data', grpcPort: 50051, httpPort: 8080, autoCreateTopics: true, defaultPartitions: 1, batchBytesMax: 1024 * 1024})
  })

  it('lets flags beat the environment, and the environment beat the file', async () => {
    await writeFile(path.join(dir, 'lignum.config.json'), JSON.stringify({grpcPort: 1111, httpPort: 2222, dataDir: '/from-file'}))
    const {config, filepath} = await loadConfig({cwd: dir, env: {LIGNUM_GRPC_PORT: '3333', LIGNUM_HTTP_PORT: '4444'}, flags: {grpcPort: '5555'}})
    expect(filepath).to.equal(path.join(dir, 'lignum.config.json'))
    expect(config.grpcPort).to.equal(5555)
    expect(config.httpPort).to.equal(4444)
    expect(config.dataDir).to.equal('/from-file')
  })

  it('reads the Consul settings grouped under "consul" (address included), and Consul\'s own CONSUL_* names below LIGNUM_*', async () => {
    await writeFile(path.join(dir, 'lignum.config.yaml'), 'consul:\n  address: https://consul:8501\n  tokenFile: /etc/lignum/consul-token\n  caFile: /etc/consul/ca.pem\n')
    const fromFile = await loadConfig({cwd: dir, env: {}})
    expect(fromFile.config).to.include({consul: 'https://consul:8501', consulTokenFile: '/etc/lignum/consul-token', consulCaFile: '/etc/consul/ca.pem', consulToken: undefined})
    const env = {CONSUL_HTTP_TOKEN: 'from-consul-env', CONSUL_CLIENT_CERT: '/c.pem', CONSUL_CLIENT_KEY: '/k.pem', CONSUL_CACERT: '/ca-env.pem', LIGNUM_CONSUL_CA_FILE: '/ca-lignum.pem'}
    const {config} = await loadConfig({cwd: dir, env})
    expect(config).to.include({consulToken: 'from-consul-env', consulCertFile: '/c.pem', consulKeyFile: '/k.pem', consulCaFile: '/ca-lignum.pem'})
    // The plain form of the address stays valid.
    await writeFile(path.join(dir, 'lignum.config.yaml'), 'consul: http://127.0.0.1:8500\n')
    expect((await loadConfig({cwd: dir, env: {}})).config.consul).to.equal('http://127.0.0.1:8500')
  })

  it('never shows the Consul token in a configuration error', async () => {
    await writeFile(path.join(dir, 'lignum.config.json'), JSON.stringify({consul: {token: 12345678}}))
    const error = await loadConfig({cwd: dir, env: {}}).then(() => undefined, (caught: unknown) => caught)
    expect(error).to.be.instanceOf(LignumError)
    expect((error as Error).message).to.contain('consulToken').and.not.contain('12345678')
  })

  it('reads the TLS settings grouped under "tls" in a file, and from LIGNUM_TLS_* and flags', async () => {
    await writeFile(path.join(dir, 'lignum.config.yaml'), 'tls:\n  certFile: /etc/lignum/node.pem\n  keyFile: /etc/lignum/node-key.pem\n  caFile: /etc/lignum/ca.pem\n  clientAuth: required\n  ca: /etc/lignum/ca.pem\n')
    const {config} = await loadConfig({cwd: dir, env: {LIGNUM_TLS_KEY_FILE: '/env/key.pem'}, flags: {tlsCaFile: '/flag/ca.pem'}})
    expect(config).to.include({tlsCertFile: '/etc/lignum/node.pem', tlsKeyFile: '/env/key.pem', tlsCaFile: '/flag/ca.pem', tlsClientAuth: 'required', tlsCa: '/etc/lignum/ca.pem'})
    await writeFile(path.join(dir, 'lignum.config.yaml'), 'tls:\n  clientAuth: always\n')
    const refused = await loadConfig({cwd: dir, env: {}}).catch((error: LignumError) => error.message)
    expect(refused).to.match(/invalid tlsClientAuth="always" in .*lignum\.config\.yaml \(tls\.clientAuth\): expected one of none, requested, required/)
    await writeFile(path.join(dir, 'lignum.config.yaml'), 'tls:\n  certfile: /typo.pem\n')
    const unknown = await loadConfig({cwd: dir, env: {}}).catch((error: LignumError) => error.message)
    expect(unknown).to.match(/unknown setting "tlsCertfile" in .*\(tls\.certfile\)/)
  })

  it('reads YAML and .lignumrc files', async () => {
    await writeFile(path.join(dir, '.lignumrc'), 'flushPolicy: always\nretentionMs: -1\n')
    const {config} = await loadConfig({cwd: dir, env: {}})
    expect(config.flushPolicy).to.equal('always')
    expect(config.retentionMs).to.equal(-1)
  })

  it('reads a "lignum" key in package.json, and passes over a package.json without one', async () => {
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({name: 'app', lignum: {grpcPort: 1234}}))
    const found = await loadConfig({cwd: dir, env: {}})
    expect(found.filepath).to.equal(path.join(dir, 'package.json'))
    expect(found.config.grpcPort).to.equal(1234)
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({name: 'app'}))
    expect((await loadConfig({cwd: dir, env: {}})).filepath).to.equal(undefined)
  })

  it('searches parent directories, up to the first one with a package.json', async () => {
    await writeFile(path.join(dir, 'lignum.config.json'), JSON.stringify({httpPort: 7777}))
    const child = path.join(dir, 'project', 'src')
    await mkdir(child, {recursive: true})
    const found = await loadConfig({cwd: child, env: {}})
    expect(found.filepath).to.equal(path.join(dir, 'lignum.config.json'))
    expect(found.config.httpPort).to.equal(7777)
    await writeFile(path.join(dir, 'project', 'package.json'), JSON.stringify({name: 'project'}))
    expect((await loadConfig({cwd: child, env: {}})).filepath).to.equal(undefined)
  })

  it('refuses a bad value naming the key, the source and what is allowed', async () => {
    await writeFile(path.join(dir, 'lignum.config.json'), JSON.stringify({grpcPort: 70000}))
    const error = await loadConfig({cwd: dir, env: {}}).catch((caught: unknown) => caught)
    expect(error).to.be.instanceOf(LignumError)
    expect((error as LignumError).code).to.equal('CONFIG')
    expect((error as LignumError).message).to.match(/grpcPort=70000 in .*lignum\.config\.json: expected a port number from 0 to 65535/)
  })

  it('refuses an unknown key and a bad environment value', async () => {
    await writeFile(path.join(dir, 'lignum.config.json'), JSON.stringify({grpcPrt: 1}))
    expect((await loadConfig({cwd: dir, env: {}}).catch((caught: Error) => caught)) as Error).to.have.property('message').match(/unknown setting "grpcPrt"/)
    const fromEnv = (await loadConfig({cwd: os.tmpdir(), env: {LIGNUM_FLUSH_POLICY: 'sometimes'}}).catch((caught: Error) => caught)) as Error
    expect(fromEnv.message).to.match(/invalid flushPolicy="sometimes" in environment variable LIGNUM_FLUSH_POLICY/)
  })
})

describe('the acl settings', () => {
  it('come from an acl group in a file, from LIGNUM_ACL_* and from flags, super users as a list or comma-separated', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-acl-config-'))
    await writeFile(path.join(dir, 'lignum.config.json'), JSON.stringify({acl: {enabled: true, rulesFile: '/etc/lignum/acl.json', superUsers: ['node-1', 'admin'], store: 'consul'}}))
    const fromFile = (await loadConfig({cwd: dir, env: {}})).config
    expect(fromFile).to.include({aclEnabled: true, aclRulesFile: '/etc/lignum/acl.json', aclStore: 'consul'})
    expect(fromFile.aclSuperUsers).to.deep.equal(['node-1', 'admin'])
    const fromEnv = (await loadConfig({cwd: dir, env: {LIGNUM_ACL_SUPER_USERS: 'a, b,', LIGNUM_ACL_STORE: 'file'}})).config
    expect(fromEnv.aclSuperUsers).to.deep.equal(['a', 'b'])
    expect(fromEnv.aclStore).to.equal('file')
    await expectRejection(loadConfig({cwd: dir, env: {LIGNUM_ACL_STORE: 'etcd'}}), /invalid aclStore="etcd" in environment variable LIGNUM_ACL_STORE: expected one of file, consul/)
    expect((await loadConfig({env: {}})).config).to.include({aclEnabled: false, aclStore: 'file'})
  })
})

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (reason: unknown) => reason)
  expect(error).to.be.instanceOf(LignumError)
  expect((error as LignumError).message).to.match(message)
}
