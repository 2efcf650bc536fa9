/**
 * Reads what scripts/ensure-peers installed: peers.json in the peers cache
 * (${XDG_CACHE_HOME:-$HOME/.cache}/lignum/peers), one entry per peer with ok, version and the
 * directory it lives in (or, when it failed, why). A peer never installed is installed by
 * running the script (see ../peers.ts); one whose install failed is reported, not retried.
 */
import {readFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export interface InstalledPeer {
  name: string
  ok: boolean
  version: string
  /** The install directory when ok, otherwise what went wrong. */
  detail: string
}

export function peersCacheDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(cacheHome, 'lignum', 'peers')
}

/** The script that installs the peers; run by the benchmark when peers.json lacks one of them. */
export const ensurePeersScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'ensure-peers')

/** Peer names the install script has not yet reported on (installed or failed). */
export async function peersNeverInstalled(names: string[]): Promise<string[]> {
  try {
    const peers = JSON.parse(await readFile(path.join(peersCacheDir(), 'peers.json'), 'utf8')) as Record<string, unknown>
    return names.filter((name) => !(name in peers))
  } catch {
    return names
  }
}

export async function readInstalledPeer(name: string): Promise<InstalledPeer | string> {
  const manifest = path.join(peersCacheDir(), 'peers.json')
  let peers: Record<string, InstalledPeer>
  try {
    peers = JSON.parse(await readFile(manifest, 'utf8')) as Record<string, InstalledPeer>
  } catch {
    return `not installed: run scripts/ensure-peers (no ${manifest})`
  }
  const peer = peers[name]
  if (!peer) return `not installed: run scripts/ensure-peers ${name}`
  if (!peer.ok) return `install failed: ${peer.detail}`
  return peer
}
