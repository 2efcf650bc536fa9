/**
 * A Java client's TLS files from a test's PEM certificates (certificates.ts): a PKCS12
 * keystore of a certificate and its key (`openssl pkcs12 -export`) and a PKCS12 truststore of a
 * CA (`keytool -importcert`: OpenSSL 3.0 cannot mark a certificate trusted for Java), written
 * next to the PEM files, and the Kafka client properties that use them over SSL.
 */
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {promisify} from 'node:util'
import type {CertificateFiles} from './certificates.js'

const run = promisify(execFile)
// Test-only secrets: PKCS12 files need a password, Java refuses an empty one for keystores.
const STORE_PASSWORD = 'lignum-test'

/** Kafka client properties for SSL trusting `caPem`, presenting `client` when given (mutual TLS). */
export async function javaSslProperties(caPem: string, client?: CertificateFiles): Promise<string[]> {
  const truststore = `${caPem}.truststore.p12`
  // The same CA's truststore, made for an earlier client, is as good.
  if (!existsSync(truststore)) await run('keytool', ['-importcert', '-noprompt', '-alias', 'ca', '-file', caPem, '-keystore', truststore, '-storetype', 'PKCS12', '-storepass', STORE_PASSWORD])
  const properties = ['security.protocol=SSL', `ssl.truststore.location=${truststore}`, 'ssl.truststore.type=PKCS12', `ssl.truststore.password=${STORE_PASSWORD}`]
  if (!client) return properties
  const keystore = path.join(path.dirname(client.cert), `${path.basename(client.cert, '.pem')}.keystore.p12`)
  await run('openssl', ['pkcs12', '-export', '-in', client.cert, '-inkey', client.key, '-name', 'client', '-out', keystore, '-passout', `pass:${STORE_PASSWORD}`])
  return [...properties, `ssl.keystore.location=${keystore}`, 'ssl.keystore.type=PKCS12', `ssl.keystore.password=${STORE_PASSWORD}`, `ssl.key.password=${STORE_PASSWORD}`]
}
