#!/usr/bin/env node
// The installed entry point: runs the compiled commands in dist/.
// First, before chalk or ansis load: they read the colour settings once.
import '../dist/cli/color-environment.js'
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
