/**
 * The file operations a partition's files go through (segments, indexes, checkpoints, producer
 * snapshots): node:fs by default, the same calls and the same errors (`code` ENOENT, EEXIST,
 * EBADF...). The deterministic simulator installs an in-memory file system here, so that
 * thousands of seeded runs a minute exercise this very code without waiting on the thread pool.
 *
 * Invariant: production never replaces it; a replacement must behave as POSIX files do for
 * these calls (positions, append mode, truncation, unlinked-but-open files, fds for readSync).
 */
import {readSync} from 'node:fs'
import {mkdir, open, readdir, readFile, rename, rm, stat, unlink} from 'node:fs/promises'

/** The part of node's FileHandle the log uses (node's FileHandle is one). */
export interface LogFileHandle {
  readonly fd: number
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{bytesRead: number}>
  write(buffer: Buffer, offset: number, length: number, position?: number | null): Promise<{bytesWritten: number}>
  writev(buffers: Buffer[], position: number): Promise<{bytesWritten: number}>
  writeFile(data: string | Buffer): Promise<void>
  sync(): Promise<void>
  datasync(): Promise<void>
  stat(): Promise<{size: number}>
  truncate(length: number): Promise<void>
  close(): Promise<void>
}

export interface FileSystem {
  open(file: string, flags: string): Promise<LogFileHandle>
  readFile(file: string): Promise<Buffer>
  readTextFile(file: string): Promise<string>
  stat(file: string): Promise<{size: number; isDirectory(): boolean}>
  readdir(dir: string): Promise<string[]>
  mkdirRecursive(dir: string): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(file: string): Promise<void>
  /** rm -rf: no error when it does not exist. */
  removeRecursive(target: string): Promise<void>
  /** A synchronous positional read on the fd of a handle `open` returned (scans, while a log opens). */
  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number
}

export const nodeFileSystem: FileSystem = {
  open,
  readFile: (file) => readFile(file),
  readTextFile: (file) => readFile(file, 'utf8'),
  stat,
  readdir: (dir) => readdir(dir),
  mkdirRecursive: async (dir) => {
    await mkdir(dir, {recursive: true})
  },
  rename,
  unlink,
  removeRecursive: (target) => rm(target, {recursive: true, force: true}),
  readSync: (fd, buffer, offset, length, position) => readSync(fd, buffer, offset, length, position),
}

let current: FileSystem = nodeFileSystem

/** The file system partitions use now. */
export function fileSystem(): FileSystem {
  return current
}

/** The simulator (and tests): every partition file operation goes to `replacement` until the returned undo runs. */
export function useFileSystem(replacement: FileSystem): () => void {
  current = replacement
  return () => {
    current = nodeFileSystem
  }
}
