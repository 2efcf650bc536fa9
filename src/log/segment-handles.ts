/**
 * The file handle of a segment's `.log`, opened on demand and shared through one process-wide
 * cache, so that a node with thousands of partitions of several segments each does not hold a
 * descriptor per segment (1,100 topics once exhausted them: EMFILE, and every produce failed).
 *
 * A handle is pinned while it is used (a read, a scan, a truncation) and permanently while its
 * segment is active (appends must never wait for an open). Unpinned open handles form an LRU;
 * when more than `segmentHandlesOpenMax` of them are open, the least recently used are closed.
 * A pinned handle is never closed under its user. A retired handle (its files unlinked) closes
 * once its last pin goes; while pinned it stays open, so reads in flight finish.
 */
import {assert} from '../assert.js'
import {LignumError} from '../errors.js'
import {fileSystem, type LogFileHandle} from './file-system.js'

/**
 * Idle handles of non-active segments kept open at most. Active segments hold theirs outside
 * this bound. Reopening costs one open(2) per cold read, so a few hundred cover many catch-up
 * readers at once while leaving a default `ulimit -n` (1024) to active segments and sockets.
 */
export const SEGMENT_HANDLES_OPEN_MAX = 256

export type OpenFile = (file: string, flags: string) => Promise<LogFileHandle>

let openMax = SEGMENT_HANDLES_OPEN_MAX
/** Open handles that are not permanently pinned (closed segments), pinned or idle. */
let openCount = 0
/** Idle open handles, least recently used first (a Map keeps insertion order). */
const idle = new Map<SegmentHandle, true>()

/** Changes the bound (a server option, or a test); closes idle handles above it at once. */
export function setSegmentHandlesOpenMax(max: number): void {
  assert(Number.isInteger(max) && max >= 1, `segment handles open max ${max} is a positive integer`)
  openMax = max
  evictIdle()
}

export function segmentHandlesOpenMax(): number {
  return openMax
}

/** Open handles of non-active segments, for tests and metrics. */
export function segmentHandlesOpen(): number {
  return openCount
}

function evictIdle(): void {
  for (const handle of idle.keys()) {
    if (openCount <= openMax) return
    handle.closeIdle()
  }
}

export class SegmentHandle {
  private handle: LogFileHandle | null
  private opening: Promise<LogFileHandle> | null = null
  private pins = 0
  private permanent = false
  private retired = false
  private closing: Promise<void> | null = null

  /** `opened` is the handle the segment was opened or created with; it starts pinned permanently. */
  constructor(
    readonly file: string,
    private readonly flags: string,
    private readonly openFile: OpenFile,
    opened: LogFileHandle,
  ) {
    this.handle = opened
    this.permanent = true
  }

  get isOpen(): boolean {
    return this.handle !== null
  }

  /**
   * Takes a pin at once (synchronously, so a retirement queued after it keeps the file open for
   * it); the caller must `unpin` in a finally.
   */
  pin(): void {
    this.pins++
    idle.delete(this)
  }

  unpin(): void {
    assert(this.pins > 0, 'unpin follows pin')
    this.pins--
    if (this.pins > 0 || this.permanent) return
    if (this.retired) {
      void this.closeNow()
      return
    }
    if (this.handle !== null) {
      idle.set(this, true)
      evictIdle()
    }
  }

  /** The open handle of a pinned segment, opening it if the cache closed it. */
  async acquire(): Promise<LogFileHandle> {
    assert(this.pins > 0 || this.permanent, `segment ${this.file} is pinned while used`)
    if (this.handle !== null) return this.handle
    if (this.closing !== null) throw new LignumError('UNAVAILABLE', `segment ${this.file} is closed`)
    this.opening ??= this.reopen()
    return this.opening
  }

  /** Pins, runs `use` with the open handle, unpins. */
  async use<T>(use: (handle: LogFileHandle) => Promise<T> | T): Promise<T> {
    this.pin()
    try {
      return await use(await this.acquire())
    } finally {
      this.unpin()
    }
  }

  private async reopen(): Promise<LogFileHandle> {
    try {
      const handle = await this.openFile(this.file, this.flags)
      this.handle = handle
      if (!this.permanent) openCount++
      return handle
    } finally {
      this.opening = null
    }
  }

  /** The active segment's handle never waits for an open: it stays open until released. */
  async keepOpen(): Promise<void> {
    if (this.permanent) return
    this.pin()
    try {
      await this.acquire()
      this.permanent = true
      openCount--
    } finally {
      this.unpin()
    }
  }

  /** The segment is no longer active: its handle joins the cache. */
  releasePermanent(): void {
    if (!this.permanent) return
    this.permanent = false
    if (this.handle !== null) openCount++
    if (this.pins === 0 && this.handle !== null && !this.retired) {
      idle.set(this, true)
      evictIdle()
    }
  }

  /**
   * The files are about to be unlinked: a pinned handle is opened first so its users can finish
   * on the unlinked file; the handle closes when the last pin goes.
   */
  async retire(): Promise<void> {
    if (this.pins > 0 && this.handle === null) await this.acquire()
    this.retired = true
    this.releasePermanent()
    idle.delete(this)
    if (this.pins === 0) await this.closeNow()
  }

  /** Closes now if nothing uses the handle, or when the last pin goes. */
  close(): Promise<void> {
    this.retired = true
    this.releasePermanent()
    idle.delete(this)
    if (this.pins === 0) return this.closeNow()
    return Promise.resolve()
  }

  /** The cache closes an idle handle; it reopens on the next use. */
  closeIdle(): void {
    assert(this.pins === 0 && !this.permanent, 'only idle handles are evicted')
    idle.delete(this)
    const handle = this.handle
    if (handle === null) return
    this.handle = null
    openCount--
    handle.close().catch(() => {})
  }

  private closeNow(): Promise<void> {
    this.closing ??= (async () => {
      await this.opening?.catch(() => {})
      const handle = this.handle
      this.handle = null
      if (handle === null) return
      if (!this.permanent) openCount--
      this.permanent = false
      await handle.close()
    })()
    return this.closing
  }
}

/** Opens through the installed file system (node:fs unless the simulator installed its own). */
export const nodeOpenFile: OpenFile = (file, flags) => fileSystem().open(file, flags)
