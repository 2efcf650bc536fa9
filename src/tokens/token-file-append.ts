/**
 * Adds one entry to a tokens file, as `lignum http-token create --file` does: the file must
 * parse as it is (nothing is added to a file a node refuses), and the entry goes on a line of
 * its own. One append, so a node polling the file sees the old file or the new one, or at
 * worst a torn last line it refuses once and reads whole at its next poll.
 */
import {appendFile, readFile} from 'node:fs/promises'
import {LignumError} from '../errors.js'
import {parseTokenFile} from './token-file.js'

export async function appendTokenFileLine(file: string, line: string): Promise<void> {
  const existing = await readExisting(file)
  parseTokenFile(existing, `the tokens file ${file}`)
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n'
  try {
    await appendFile(file, separator + line + '\n', 'utf8')
  } catch (error) {
    throw new LignumError('CONFIG', `cannot write the tokens file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; check the path and its permissions`, {cause: error})
  }
}

async function readExisting(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return ''
    throw new LignumError('CONFIG', `cannot read the tokens file ${file}: ${code ?? String(error)}; check the path and its permissions`, {cause: error})
  }
}
