#!/usr/bin/env node
// The icf command: runs the compiled CLI (npm install builds it through the prepare script).
'use strict';
const path = require('node:path');
let cli;
try {
  cli = require(path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js'));
} catch (error) {
  console.error('icf: the project is not built; run `npm install` (or `npm run build`) first.');
  process.exit(1);
}
cli.run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
