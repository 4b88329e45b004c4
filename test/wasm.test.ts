import { test } from 'node:test';
import assert from 'node:assert/strict';
import { staleWasmModules } from '../scripts/build-wasm.ts';

test('every committed wasm module is its .wat compiled (run node --import tsx scripts/build-wasm.ts)', async () => {
  assert.deepEqual(await staleWasmModules(), []);
});
