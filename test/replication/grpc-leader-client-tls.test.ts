/**
 * Replication over mutual TLS, against a real `lignum serve` leader requiring client
 * certificates: a follower presenting a node certificate the cluster's CA signed fetches (its
 * channel built the way a node builds it, from the node's certificate files); one presenting a
 * certificate of another CA, or none, is refused in the handshake and cannot fetch a byte.
 */
import {expect} from 'chai'
import {credentials} from '@grpc/grpc-js'
import {readFileSync} from 'node:fs'
import {LignumError} from '../../src/errors.js'
import {GrpcLeaderClient} from '../../src/replication/grpc-leader-client.js'
import {peerChannelCredentialsOf} from '../../src/server/tls-listeners.js'
import {CertificateWatch} from '../../src/tls/certificate-watch.js'
import {DEFAULT_PRINCIPAL_MAPPING} from '../../src/tls/principal-mapping.js'
import {makeCa, type CertificateFiles, type TestCa} from '../helpers/certificates.js'
import {runCli} from '../helpers/cli.js'
import {recordingLogger} from '../helpers/manual-clock.js'
import {startServer, type RunningServer} from '../helpers/server.js'

const TOPIC = 'replicated'

describe('replica fetches over mutual TLS (a real lignum serve as the leader)', function () {
  this.timeout(60_000)
  let ca: TestCa
  let leader: RunningServer
  let clientArgs: string[]
  const watches: CertificateWatch[] = []

  before(async () => {
    ca = await makeCa('cluster-ca')
    const leaderFiles = await ca.issue('leader')
    leader = await startServer({args: ['--tls-cert-file', leaderFiles.cert, '--tls-key-file', leaderFiles.key, '--tls-ca-file', ca.cert, '--tls-client-auth', 'required']})
    const admin = await ca.issue('admin')
    clientArgs = ['--brokers', leader.grpcAddress, '--tls-ca', ca.cert, '--tls-cert', admin.cert, '--tls-key', admin.key]
    const produced = await runCli(['produce', '-t', TOPIC, ...clientArgs], {input: 'one\ntwo\nthree\n'})
    expect(produced.code, produced.stderr).to.equal(0)
  })
  after(async () => {
    for (const watch of watches) watch.stop()
    await leader.stop()
  })

  async function followerOf(files: CertificateFiles, trustedCa: string): Promise<GrpcLeaderClient> {
    const watch = new CertificateWatch({certFile: files.cert, keyFile: files.key, caFile: trustedCa}, recordingLogger())
    await watch.start()
    watches.push(watch)
    return new GrpcLeaderClient(leader.grpcAddress, peerChannelCredentialsOf({watch, clientAuth: 'required', principalMapping: DEFAULT_PRINCIPAL_MAPPING}))
  }

  function fetchAll(client: GrpcLeaderClient) {
    return client.fetch({topic: TOPIC, partition: 0, fetchOffset: 0, leaderEpoch: 0, replicaId: 7, maxBytes: 1024 * 1024, maxWaitMs: 0})
  }

  it('serves a follower whose node certificate the CA signed', async () => {
    const follower = await followerOf(await ca.issue('follower'), ca.cert)
    try {
      const answer = await fetchAll(follower)
      expect(answer.error).to.equal(undefined)
      expect(answer.highWatermark).to.equal(3)
      expect(answer.batches.length).to.be.greaterThan(0)
    } finally {
      follower.close()
    }
  })

  it('refuses a follower whose certificate another CA signed, and one without a certificate', async () => {
    const otherCa = await makeCa('rogue-ca')
    const rogue = await followerOf(await otherCa.issue('rogue'), ca.cert)
    const anonymous = new GrpcLeaderClient(leader.grpcAddress, credentials.createSsl(readFileSync(ca.cert)))
    const plaintext = new GrpcLeaderClient(leader.grpcAddress)
    try {
      for (const [who, client] of [['rogue', rogue], ['anonymous', anonymous], ['plaintext', plaintext]] as const) {
        const failure = await fetchAll(client).then(() => null, (error: unknown) => error)
        expect(failure, who).to.be.instanceOf(LignumError)
        expect((failure as LignumError).code, who).to.equal('UNAVAILABLE')
      }
    } finally {
      rogue.close()
      anonymous.close()
      plaintext.close()
    }
  })
})
