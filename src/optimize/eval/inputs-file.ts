/**
 * Loads an evaluation input set: a safetensors file whose tensor names are model input names and
 * whose first dimension is the batch (rows, or steps with --sequential). Reading and validation are
 * done by src/formats; this adapter only converts to host tensors. Never writes.
 */
import { readSafetensorsFile } from '../../formats/safetensors.ts';
import { inputError } from '../../errors.ts';
import { hostFromBytes, hostTypeOf, type HostTensor } from './tensors.ts';

export async function loadInputsFile(path: string): Promise<Record<string, HostTensor>> {
  const f = await readSafetensorsFile(path);
  if (f.tensors.length === 0) throw inputError('EVAL_INPUTS_EMPTY', `${path}: the inputs file holds no tensors`);
  const out: Record<string, HostTensor> = {};
  for (const t of f.tensors) out[t.name] = hostFromBytes(hostTypeOf(t.dtype, t.name), t.shape, t.data);
  return out;
}
