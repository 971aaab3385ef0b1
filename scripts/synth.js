#!/usr/bin/env node
/**
 * `npm run synth`: brings dist/ up to date (scripts/transpile.js: only the files that changed, no
 * type-check) and runs the app (dist/main.js), in one Node process rather than two.
 */
"use strict";
require("./transpile").transpile();
require("../dist/main").main();
