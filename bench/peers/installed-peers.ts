/**
 * Reads what scripts/ensure-peers installed: peers.json in the peers cache
 * (${XDG_CACHE_HOME:-$HOME/.cache}/lignum/peers), one entry per peer with ok, version and the
 * directory it lives in (or, when it failed, why).
 */
import {readFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

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
