/**
 * The `high-watermark-checkpoint` of a partition: the last high watermark the node knew,
 * Kafka's `replication-offset-checkpoint` kept per partition directory. Text:
 *
 *   0        version
 *   1500     high watermark
 *
 * A replica restarts with min(checkpoint, log end offset): it must not serve as committed
 * what it cannot prove the leader had committed. Replaced durably (atomic-file.ts). A
 * missing file reads as null; a damaged one too, and the caller says so (a low high
 * watermark is safe: it only rises again as the leader's advances).
 */
import path from 'node:path'
import {replaceFileAtomically} from './atomic-file.js'
import {fileSystem} from './file-system.js'

export const HIGH_WATERMARK_CHECKPOINT_FILE = 'high-watermark-checkpoint'
const CHECKPOINT_VERSION = '0'

export type HighWatermarkRead = {highWatermark: number} | {highWatermark: null; damaged: string | null}

export async function readHighWatermarkCheckpoint(dir: string): Promise<HighWatermarkRead> {
  let text: string
  try {
    text = await fileSystem().readTextFile(path.join(dir, HIGH_WATERMARK_CHECKPOINT_FILE))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {highWatermark: null, damaged: null}
    throw error
  }
  const lines = text.split('\n')
  const offset = Number(lines[1])
  if (lines[0] !== CHECKPOINT_VERSION || lines[1] === '' || !Number.isSafeInteger(offset) || offset < 0) {
    return {highWatermark: null, damaged: `expected "${CHECKPOINT_VERSION}" and an offset on two lines, found ${JSON.stringify(text.slice(0, 40))}`}
  }
  return {highWatermark: offset}
}

export async function writeHighWatermarkCheckpoint(dir: string, highWatermark: number): Promise<void> {
  await replaceFileAtomically(path.join(dir, HIGH_WATERMARK_CHECKPOINT_FILE), `${CHECKPOINT_VERSION}\n${highWatermark}\n`)
}
