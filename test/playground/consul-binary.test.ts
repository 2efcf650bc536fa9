import {expect} from 'chai'
import {chmod, mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {findConsulBinary} from '../../src/playground/consul-binary.js'

describe('playground/consul-binary', () => {
  let root: string

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'lignum-consul-binary-'))
  })

  afterEach(async () => {
    await rm(root, {recursive: true, force: true})
  })

  async function executable(file: string): Promise<string> {
    await mkdir(path.dirname(file), {recursive: true})
    await writeFile(file, '#!/bin/sh\n')
    await chmod(file, 0o755)
    return file
  }

  it('takes LIGNUM_CONSUL_BIN first, then the newest cached build, then consul on PATH', async () => {
    const fromEnv = await executable(path.join(root, 'env', 'consul'))
    const cache = path.join(root, 'cache')
    await executable(path.join(cache, 'lignum', 'consul', '1.9.3', 'consul'))
    const newest = await executable(path.join(cache, 'lignum', 'consul', '1.14.11', 'consul'))
    const onPath = await executable(path.join(root, 'bin', 'consul'))
    const env = {XDG_CACHE_HOME: cache, PATH: path.join(root, 'bin')}
    expect(await findConsulBinary({...env, LIGNUM_CONSUL_BIN: fromEnv})).to.equal(fromEnv)
    expect(await findConsulBinary(env)).to.equal(newest)
    expect(await findConsulBinary({...env, XDG_CACHE_HOME: path.join(root, 'empty')})).to.equal(onPath)
  })

  it('refuses a LIGNUM_CONSUL_BIN that cannot run, and says how to get one when there is none', async () => {
    await writeFile(path.join(root, 'plain'), 'not executable')
    try {
      await findConsulBinary({LIGNUM_CONSUL_BIN: path.join(root, 'plain')})
      expect.fail('accepted a file that is not executable')
    } catch (error) {
      expect((error as Error).message).to.equal(`LIGNUM_CONSUL_BIN=${path.join(root, 'plain')} is not an executable file; point it at a consul binary or unset it`)
    }
    try {
      await findConsulBinary({HOME: root, PATH: path.join(root, 'nothing')})
      expect.fail('found a consul where there is none')
    } catch (error) {
      expect((error as Error).message).to.match(/^no consul binary found: run scripts\/ensure-consul/)
    }
  })
})
