import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const hasWabt = await import('wabt').then(
  () => true,
  () => false,
);

test('the committed residual-wasm.ts is residual.wat compiled', { skip: !hasWabt && 'wabt not installed' }, async () => {
  const { compileResidualWasm } = await import('./build.ts');
  const committed = readFileSync(fileURLToPath(new URL('./residual-wasm.ts', import.meta.url)), 'utf8');
  assert.equal(committed, await compileResidualWasm(), 'run node --import tsx src/delta/wasm/build.ts');
});
