#!/usr/bin/env node
'use strict'
// Runs Segment's mapping-kit (transform() of @segment/actions-core, from the oracle's npm install)
// on every case of directive_cases.input.json ({name, mapping | mapping_ref, event}) and writes
// directive_cases.expected.json: one {name, expected} or {name, error} per case, in the same order.
// Usage (from this folder):
//   NODE_PATH=../../../../shared/tools/segment-oracle/node_modules node make_expected.js
const fs = require('fs')
const path = require('path')
const { transform } = require('@segment/actions-core')

// mapping_ref names a mapping of the reference action: "field_defaults" or "preset:<name>".
const reference = JSON.parse(fs.readFileSync(
  path.join(__dirname, '../../reference/segment-reportWebEvent.json'), 'utf8'))
function mappingOf(c) {
  if (!c.mapping_ref) return c.mapping
  if (c.mapping_ref === 'field_defaults') return reference.field_defaults
  return reference.presets.find((p) => `preset:${p.name}` === c.mapping_ref).mapping
}
const input = JSON.parse(fs.readFileSync(path.join(__dirname, 'directive_cases.input.json'), 'utf8'))
const lines = input.map((c) => {
  const r = { name: c.name }
  try {
    r.expected = transform(JSON.parse(JSON.stringify(mappingOf(c))), c.event)
  } catch (e) {
    r.error = String(e.message || e).trim().split('\n')[0]
  }
  return JSON.stringify(r)
})
fs.writeFileSync(path.join(__dirname, 'directive_cases.expected.json'), '[\n' + lines.join(',\n') + '\n]\n')
console.log(`${lines.length} cases`)
