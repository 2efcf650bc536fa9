/**
 * An in-memory file system for the simulator (src/log/file-system.ts's seam): the partition
 * code runs unchanged on it, but no call waits on the thread pool, so an event reaches
 * quiescence in one turn of the event loop and seeds run several times faster than on tmpfs.
 *
 * It behaves as POSIX files do for the calls the log makes, with node's error codes: open
 * flags (r, r+, w, w+, wx, wx+, a, a+; ENOENT, EEXIST, EISDIR), a handle's own position for
 * writes without one, append mode writing at the end whatever position is given, a write past
 * the end leaving a zero-filled hole, truncate cutting or zero-extending, an unlinked file
 * staying readable through the handles open on it, EBADF on a closed handle (fd -1 after
 * close, as node's FileHandle) or on a write to a read-only one. readdir lists names sorted.
 *
 * Durability is not modelled here: a write is in the file at once (the page cache), and
 * sim-disk.ts decides what a power loss takes back from what was synced.
 */
import path from 'node:path'
import type {FileSystem, LogFileHandle} from '../src/log/file-system.js'

// A file's buffer grows by doubling from this, so appends of small batches copy little.
const INITIAL_CAPACITY_BYTES = 1024

/** A file's bytes: `data.subarray(0, size)`; the rest of `data` is spare capacity. */
class MemoryFile {
  data = Buffer.alloc(0)
  size = 0

  ensureCapacity(bytes: number): void {
    if (bytes <= this.data.length) return
    let capacity = Math.max(INITIAL_CAPACITY_BYTES, this.data.length)
    while (capacity < bytes) capacity *= 2
    const grown = Buffer.alloc(capacity)
    this.data.copy(grown, 0, 0, this.size)
    this.data = grown
  }

  writeAt(source: Buffer, offset: number, length: number, position: number): number {
    // An empty write changes nothing, not even the size (pwrite(2) of 0 bytes past the end).
    if (length === 0) return 0
    this.ensureCapacity(position + length)
    // A hole between the old end and the position reads as zeros (the spare capacity may hold old bytes).
    if (position > this.size) this.data.fill(0, this.size, position)
    source.copy(this.data, position, offset, offset + length)
    this.size = Math.max(this.size, position + length)
    return length
  }

  readAt(target: Buffer, offset: number, length: number, position: number): number {
    const count = Math.max(0, Math.min(length, this.size - position))
    if (count > 0) this.data.copy(target, offset, position, position + count)
    return count
  }

  truncate(length: number): void {
    if (length > this.size) {
      this.ensureCapacity(length)
      this.data.fill(0, this.size, length)
    }
    this.size = length
  }

  contents(): Buffer {
    return Buffer.from(this.data.subarray(0, this.size))
  }
}

class MemoryDirectory {
  readonly entries = new Map<string, MemoryFile | MemoryDirectory>()
}

type Node = MemoryFile | MemoryDirectory

/**
 * An error without a stack trace: the log meets many expected ones (a stat of a missing index,
 * a missing checkpoint) and a trace costs more than the call; node's fs/promises errors carry
 * none of the caller's frames either.
 */
function stacklessError(message: string): NodeJS.ErrnoException {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new Error(message)
  } finally {
    Error.stackTraceLimit = limit
  }
}

function fsError(code: string, description: string, syscall: string, file?: string): NodeJS.ErrnoException {
  const error = stacklessError(`${code}: ${description}, ${syscall}${file === undefined ? '' : ` '${file}'`}`)
  error.code = code
  error.syscall = syscall
  if (file !== undefined) error.path = file
  return error
}

const missing = (syscall: string, file: string) => fsError('ENOENT', 'no such file or directory', syscall, file)

interface OpenMode {
  readable: boolean
  writable: boolean
  append: boolean
  create: boolean
  exclusive: boolean
  truncate: boolean
}

const OPEN_MODES: Record<string, OpenMode> = {
  r: {readable: true, writable: false, append: false, create: false, exclusive: false, truncate: false},
  'r+': {readable: true, writable: true, append: false, create: false, exclusive: false, truncate: false},
  w: {readable: false, writable: true, append: false, create: true, exclusive: false, truncate: true},
  'w+': {readable: true, writable: true, append: false, create: true, exclusive: false, truncate: true},
  wx: {readable: false, writable: true, append: false, create: true, exclusive: true, truncate: true},
  'wx+': {readable: true, writable: true, append: false, create: true, exclusive: true, truncate: true},
  a: {readable: false, writable: true, append: true, create: true, exclusive: false, truncate: false},
  'a+': {readable: true, writable: true, append: true, create: true, exclusive: false, truncate: false},
}

export class MemoryFileHandle implements LogFileHandle {
  private fdValue: number
  private position = 0
  /** Called after every sync or datasync with the file's size (sim-disk.ts notes what is durable). */
  onSynced: ((sizeBytes: number) => void) | null = null

  constructor(
    private readonly files: MemoryFileSystem,
    readonly node: Node,
    private readonly mode: OpenMode,
    fd: number,
  ) {
    this.fdValue = fd
  }

  get fd(): number {
    return this.fdValue
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{bytesRead: number}> {
    return {bytesRead: this.readNow(buffer, offset, length, position, 'read')}
  }

  readNow(buffer: Buffer, offset: number, length: number, position: number | null, syscall: string): number {
    const file = this.file(syscall, this.mode.readable)
    const bytesRead = file.readAt(buffer, offset, length, position ?? this.position)
    if (position === null) this.position += bytesRead
    return bytesRead
  }

  async write(buffer: Buffer, offset: number, length: number, position?: number | null): Promise<{bytesWritten: number}> {
    // node's FileHandle.write answers an empty write itself, before any system call (writev does not).
    if (length === 0) {
      this.open('write')
      return {bytesWritten: 0}
    }
    return {bytesWritten: this.writeNow(buffer, offset, length, position ?? null)}
  }

  async writev(buffers: Buffer[], position: number): Promise<{bytesWritten: number}> {
    const joined = Buffer.concat(buffers)
    return {bytesWritten: this.writeNow(joined, 0, joined.length, position)}
  }

  async writeFile(data: string | Buffer): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    this.writeNow(bytes, 0, bytes.length, null)
  }

  async sync(): Promise<void> {
    this.synced('fsync')
  }

  async datasync(): Promise<void> {
    this.synced('fdatasync')
  }

  async stat(): Promise<{size: number}> {
    this.open('fstat')
    return {size: this.node instanceof MemoryFile ? this.node.size : 4096}
  }

  async truncate(length: number): Promise<void> {
    const file = this.file('ftruncate', true)
    // ftruncate(2) on a descriptor not open for writing: EINVAL (not EBADF) on Linux.
    if (!this.mode.writable) throw fsError('EINVAL', 'invalid argument', 'ftruncate')
    file.truncate(length)
  }

  async close(): Promise<void> {
    this.open('close')
    this.files.forget(this.fdValue)
    this.fdValue = -1
  }

  private writeNow(buffer: Buffer, offset: number, length: number, position: number | null): number {
    const file = this.file('write', this.mode.writable)
    // O_APPEND: every write goes to the end, whatever position it names (pwrite on Linux too).
    const at = this.mode.append ? file.size : (position ?? this.position)
    const written = file.writeAt(buffer, offset, length, at)
    if (position === null || this.mode.append) this.position = at + written
    return written
  }

  private synced(syscall: string): void {
    this.open(syscall)
    this.onSynced?.(this.node instanceof MemoryFile ? this.node.size : 0)
  }

  /** node's FileHandle after close: fd -1, and every call fails with EBADF 'file closed'. */
  private open(syscall: string): void {
    if (this.fdValue === -1) {
      const error = stacklessError('file closed')
      error.code = 'EBADF'
      error.syscall = syscall
      throw error
    }
  }

  private file(syscall: string, allowed: boolean): MemoryFile {
    this.open(syscall)
    if (this.node instanceof MemoryDirectory) throw fsError('EISDIR', 'illegal operation on a directory', syscall)
    if (!allowed) throw fsError('EBADF', 'bad file descriptor', syscall)
    return this.node
  }
}

export class MemoryFileSystem implements FileSystem {
  private readonly root = new MemoryDirectory()
  private readonly handles = new Map<number, MemoryFileHandle>()
  // Above stdio and what the process itself holds, as real fds would be.
  private nextFd = 100

  async open(file: string, flags: string): Promise<MemoryFileHandle> {
    return this.openNow(file, flags)
  }

  openNow(file: string, flags: string): MemoryFileHandle {
    const mode = OPEN_MODES[flags]
    if (!mode) throw new Error(`the simulated file system does not know open flags ${flags}`)
    const {parent, name} = this.parentOf(file, 'open')
    let node = parent.entries.get(name)
    if (node !== undefined && mode.exclusive) throw fsError('EEXIST', 'file already exists', 'open', file)
    if (node === undefined) {
      if (!mode.create) throw missing('open', file)
      node = new MemoryFile()
      parent.entries.set(name, node)
    }
    if (node instanceof MemoryDirectory && mode.writable) throw fsError('EISDIR', 'illegal operation on a directory', 'open', file)
    if (node instanceof MemoryFile && mode.truncate) node.truncate(0)
    const handle = new MemoryFileHandle(this, node, mode, this.nextFd++)
    this.handles.set(handle.fd, handle)
    return handle
  }

  forget(fd: number): void {
    this.handles.delete(fd)
  }

  async readFile(file: string): Promise<Buffer> {
    return this.fileAt(file, 'open').contents()
  }

  async readTextFile(file: string): Promise<string> {
    return this.fileAt(file, 'open').contents().toString('utf8')
  }

  async stat(file: string): Promise<{size: number; isDirectory(): boolean}> {
    return this.statNow(file)
  }

  statNow(file: string): {size: number; isDirectory(): boolean} {
    const node = this.lookup(file, 'stat')
    const directory = node instanceof MemoryDirectory
    return {size: node instanceof MemoryFile ? node.size : 4096, isDirectory: () => directory}
  }

  async readdir(dir: string): Promise<string[]> {
    return this.readdirNow(dir)
  }

  readdirNow(dir: string): string[] {
    const node = this.lookup(dir, 'scandir')
    if (!(node instanceof MemoryDirectory)) throw fsError('ENOTDIR', 'not a directory', 'scandir', dir)
    return [...node.entries.keys()].sort()
  }

  async mkdirRecursive(dir: string): Promise<void> {
    let current = this.root
    for (const part of parts(dir)) {
      const next = current.entries.get(part)
      if (next instanceof MemoryFile) throw fsError('EEXIST', 'file already exists', 'mkdir', dir)
      if (next === undefined) {
        const created = new MemoryDirectory()
        current.entries.set(part, created)
        current = created
      } else current = next
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const source = this.parentOf(from, 'rename')
    const node = source.parent.entries.get(source.name)
    if (node === undefined) throw fsError('ENOENT', 'no such file or directory', 'rename', `${from}' -> '${to}`)
    const target = this.parentOf(to, 'rename')
    if (target.parent.entries.get(target.name) instanceof MemoryDirectory) throw fsError('EISDIR', 'illegal operation on a directory', 'rename', `${from}' -> '${to}`)
    source.parent.entries.delete(source.name)
    target.parent.entries.set(target.name, node)
  }

  async unlink(file: string): Promise<void> {
    const {parent, name} = this.parentOf(file, 'unlink')
    const node = parent.entries.get(name)
    if (node === undefined) throw missing('unlink', file)
    if (node instanceof MemoryDirectory) throw fsError('EISDIR', 'illegal operation on a directory', 'unlink', file)
    // Handles open on it keep the MemoryFile: reads in flight finish on the unlinked file.
    parent.entries.delete(name)
  }

  async removeRecursive(target: string): Promise<void> {
    const names = parts(target)
    if (names.length === 0) {
      this.root.entries.clear()
      return
    }
    try {
      this.parentOf(target, 'rm').parent.entries.delete(names[names.length - 1])
    } catch {
      // rm -f: a missing parent is nothing to remove.
    }
  }

  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    const handle = this.handles.get(fd)
    if (!handle) throw fsError('EBADF', 'bad file descriptor', 'read')
    return handle.readNow(buffer, offset, length, position, 'read')
  }

  private fileAt(file: string, syscall: string): MemoryFile {
    const node = this.lookup(file, syscall)
    if (node instanceof MemoryDirectory) throw fsError('EISDIR', 'illegal operation on a directory', 'read')
    return node
  }

  private lookup(file: string, syscall: string, reported = file): Node {
    return this.lookupParts(parts(file), syscall, reported)
  }

  private lookupParts(names: string[], syscall: string, reported: string): Node {
    let node: Node = this.root
    for (const part of names) {
      const next: Node | undefined = node instanceof MemoryDirectory ? node.entries.get(part) : undefined
      if (next === undefined) throw node instanceof MemoryFile ? fsError('ENOTDIR', 'not a directory', syscall, reported) : missing(syscall, reported)
      node = next
    }
    return node
  }

  private parentOf(file: string, syscall: string): {parent: MemoryDirectory; name: string} {
    const names = parts(file)
    const name = names.pop()
    if (name === undefined) throw fsError('EISDIR', 'illegal operation on a directory', syscall, file)
    const parent = this.lookupParts(names, syscall, file)
    if (!(parent instanceof MemoryDirectory)) throw fsError('ENOTDIR', 'not a directory', syscall, file)
    return {parent, name}
  }
}

function parts(file: string): string[] {
  // The log's paths are absolute and normalized (path.join): only others need resolving.
  const normalized = file.startsWith('/') && !file.includes('/.') && !file.includes('//') ? file : path.resolve(file)
  const names = normalized.split('/')
  names.shift()
  if (names.at(-1) === '') names.pop()
  return names
}
