/**
 * A private build of Lignum for the benchmark: src/ compiled once into the scratch directory
 * (package.json, bin/, a fresh oclif manifest, node_modules linked), so that every run of a
 * long benchmark measures the same code even while dist/ in the working tree is rebuilt.
 */
import {cp, mkdir, symlink, access} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {runTool} from './processes.js'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Compiling all of src/ on a loaded 2-core machine. */
const buildTimeoutMs = 10 * 60_000

export interface LignumBuild {
  root: string
  bin: string
  clientModule: string
}

export async function buildLignum(scratchDir: string): Promise<LignumBuild> {
  const root = path.join(scratchDir, 'lignum-build')
  await mkdir(root, {recursive: true})
  await cp(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'))
  await cp(path.join(repoRoot, 'bin'), path.join(root, 'bin'), {recursive: true})
  await symlink(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules')).catch(() => undefined)
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  // Type errors elsewhere in a tree under work still emit JavaScript; what must exist is checked below.
  await runTool(process.execPath, [tsc, '-p', path.join(repoRoot, 'tsconfig.build.json'), '--outDir', path.join(root, 'dist')], {timeoutMs: buildTimeoutMs, cwd: repoRoot})
  const build = {root, bin: path.join(root, 'bin', 'run.js'), clientModule: path.join(root, 'dist', 'client', 'index.js')}
  await access(path.join(root, 'dist', 'commands', 'serve.js'))
  await access(build.clientModule)
  const oclif = path.join(repoRoot, 'node_modules', 'oclif', 'bin', 'run.js')
  await runTool(process.execPath, [oclif, 'manifest'], {timeoutMs: buildTimeoutMs, cwd: root})
  return build
}
