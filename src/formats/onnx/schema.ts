/**
 * Loads our own ONNX schema (onnx.proto beside this file, written from the ONNX spec) into
 * protobufjs once, and exposes the message types. No decoding policy lives here; see model.ts.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

let root: protobuf.Root | undefined;

export function onnxRoot(): protobuf.Root {
  if (!root) {
    const text = readFileSync(new URL('./onnx.proto', import.meta.url), 'utf8');
    root = protobuf.parse(text, { keepCase: true }).root;
    root.resolveAll();
  }
  return root;
}

export function onnxType(name: string): protobuf.Type {
  return onnxRoot().lookupType(`onnx.${name}`);
}
