/**
 * A node's id: given in the configuration, or kept in `<dataDir>/meta.properties` (Kafka's
 * file, `node.id=...`) so it stays the same across restarts. The first start without one
 * picks a random id and writes it.
 */
import {randomBytes} from 'node:crypto'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {LignumError} from '../errors.js'

const META_FILE = 'meta.properties'
// A node id appears in Consul keys and logs: keep it short and plain.
const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

export async function resolveNodeId(dataDir: string, configured: string | undefined): Promise<string> {
  if (configured !== undefined) {
    if (!NODE_ID_PATTERN.test(configured)) {
      throw new LignumError('CONFIG', `invalid node id "${configured}": use 1 to 64 characters of letters, digits, ".", "_" and "-"`)
    }
    await writeMeta(dataDir, configured)
    return configured
  }
  const stored = await readStoredNodeId(dataDir)
  if (stored) return stored
  const generated = `node-${randomBytes(4).toString('hex')}`
  await writeMeta(dataDir, generated)
  return generated
}

async function readStoredNodeId(dataDir: string): Promise<string | undefined> {
  const text = await readFile(path.join(dataDir, META_FILE), 'utf8').catch(() => '')
  const match = /^node\.id=(.+)$/m.exec(text)
  return match?.[1].trim()
}

async function writeMeta(dataDir: string, nodeId: string): Promise<void> {
  await writeFile(path.join(dataDir, META_FILE), `# Written by lignum serve.\nversion=1\nnode.id=${nodeId}\n`)
}
