#!/usr/bin/env node
// Generates src/generated/ from proto/ with buf and ts-proto (both npm packages, so it needs
// nothing but `npm ci`). The output is rebuilt from scratch so no stale file survives.
import {execFileSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
rmSync(path.join(root, 'src', 'generated'), {recursive: true, force: true})
execFileSync(path.join(root, 'node_modules', '.bin', 'buf'), ['generate'], {cwd: root, stdio: 'inherit'})
