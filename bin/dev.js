#!/usr/bin/env -S node --import tsx --no-warnings
// The development entry point: runs the TypeScript sources directly through tsx.
// First, before chalk or ansis load: they read the colour settings once.
import '../src/cli/color-environment.ts'
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
