/**
 * Recipe: real evaluation audio for Silero VAD. Sentences are synthesized by espeak-ng (several
 * voices, speeds, levels), resampled to 16 kHz mono, separated by silences and mixed by sox with a
 * noise bed whose type and level change every few seconds (pink/white/brown, ~-50 to -22 dBFS),
 * with stretches of pure silence and of noise alone. Written as safetensors of frames:
 *   vad-512.safetensors   input F32[N,512]  (Silero v5 at 16 kHz; also accepted by v4)
 *   vad-1536.safetensors  input F32[M,1536] (Silero v4 legacy's usual frame)
 *   vad-calib-{512,1536}.safetensors: a smaller calibration set (other sentences, voices, noise)
 * plus `sr` I64 scalar 16000. Deterministic: fixed seed, `sox -R` (repeatable noise), no dither.
 * Run: node --import tsx scripts/inputs/vad.ts [OUT_DIR]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeSafetensors } from '../../src/formats/safetensors.ts';
import { INPUTS_DIR, bytesOf, pick, prng, run } from './tools.ts';

export const SAMPLE_RATE = 16000;

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'Please send the quarterly report to the finance team before Friday.',
  'Turn left at the next intersection, then continue for two kilometres.',
  'The weather tomorrow will be cloudy with a chance of light rain.',
  'Could you repeat the last part of the instructions, please?',
  'Our flight to Lisbon has been delayed by forty five minutes.',
  'Remember to save your work and restart the computer tonight.',
  'Seven hundred and twenty three people attended the conference.',
  'She opened the window and listened to the birds in the garden.',
  'The battery level is low. Connect the charger to continue.',
  'Ein kleiner Hund läuft durch den Park am Morgen.',
  'Le train pour Paris part du quai numéro trois.',
  'El museo abre a las diez de la mañana todos los días.',
  'Thank you for calling. All of our agents are currently busy.',
  'Mix the flour and the sugar, then add two eggs and some milk.',
  'Stop. Wait. Listen. Did you hear that noise outside?',
  'Recording started at nine fifteen on the second of March.',
  'Hello, is anybody there? I think the microphone is working now.',
];
/** Calibration set (for `quantize --calibrate`): different sentences, voices and noise from the evaluation set. */
const CALIB_SENTENCES = [
  'Good morning everyone, the meeting will begin in five minutes.',
  'Please keep your belongings with you at all times.',
  'The library closes at eight o clock on weekdays.',
  'Can you hear me clearly now, or should I speak louder?',
  'Take the second exit at the roundabout and park near the entrance.',
  'Ich habe heute keine Zeit, vielleicht morgen.',
];
const VOICES = ['en-us', 'en-gb', 'en-us+f3', 'en-gb-scotland', 'en+m3', 'en-us+f2'];
const LANG_VOICES: Record<number, string> = { 10: 'de', 11: 'fr', 12: 'es' };
const NOISES = ['pinknoise', 'whitenoise', 'brownnoise'] as const;
const NOISE_LEVELS = [0.003, 0.006, 0.012, 0.025, 0.05];

export interface VadInputsResult {
  files: { path: string; frames: number; frameSize: number }[];
  seconds: number;
}

const f32wav = ['-e', 'floating-point', '-b', '32', '-r', String(SAMPLE_RATE), '-c', '1'];

export async function buildVadInputs(outDir = INPUTS_DIR, seed = 20240601, variant: 'eval' | 'calib' = 'eval'): Promise<VadInputsResult> {
  const sentences = variant === 'eval' ? SENTENCES : CALIB_SENTENCES;
  const prefix = variant === 'eval' ? 'vad' : 'vad-calib';
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(outDir, '.vad-work-'));
  try {
    const r = prng(seed);
    const parts: string[] = [];
    for (let i = 0; i < sentences.length; i++) {
      const voice = (variant === 'eval' ? LANG_VOICES[i] : i === 5 ? 'de' : undefined) ?? pick(r, VOICES);
      const speed = 130 + Math.floor(r() * 60);
      const wav = join(work, `s${i}.wav`);
      await run('espeak-ng', ['-v', voice, '-s', String(speed), '-w', wav, sentences[i]!]);
      const gap = (0.3 + r() * 2.2).toFixed(2);
      const vol = (0.35 + r() * 0.65).toFixed(2);
      const part = join(work, `p${i}.wav`);
      await run('sox', ['-R', '-D', wav, ...f32wav, part, 'vol', vol, 'pad', gap, '0']);
      parts.push(part);
    }
    // speech track: 2 s of silence first, the sentences, 4 s of silence at the end
    const speech = join(work, 'speech.wav');
    await run('sox', ['-R', '-D', ...parts, speech, 'pad', '2', '4']);
    const samples = Number((await run('sox', ['--i', '-s', speech])).toString().trim());
    const seconds = samples / SAMPLE_RATE;
    // noise bed: 4-second segments of changing colour and level; the first second is digital silence
    const segs: string[] = [];
    const quiet = join(work, 'n-quiet.wav');
    await run('sox', ['-R', '-D', '-n', ...f32wav, quiet, 'trim', '0', '1']);
    segs.push(quiet);
    for (let t = 1, j = 0; t < seconds + 4; t += 4, j++) {
      const seg = join(work, `n${j}.wav`);
      await run('sox', ['-R', '-D', '-n', ...f32wav, seg, 'synth', '4', pick(r, NOISES), 'vol', String(pick(r, NOISE_LEVELS))]);
      segs.push(seg);
    }
    const noise = join(work, 'noise.wav');
    await run('sox', ['-R', '-D', ...segs, noise]);
    // mix (unity gain for both inputs), trim to the speech track's length, raw float32 out
    const raw = await run('sox', ['-R', '-D', '-m', '-v', '1', speech, '-v', '1', noise, '-t', 'f32', ...f32wav.slice(4), '-', 'trim', '0', `${samples}s`]);
    const audio = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength - (raw.byteLength % 4)));
    for (let i = 0; i < audio.length; i++) audio[i] = Math.max(-1, Math.min(1, audio[i]!));
    const files: VadInputsResult['files'] = [];
    const sr = new BigInt64Array([BigInt(SAMPLE_RATE)]);
    for (const frameSize of [512, 1536]) {
      const frames = Math.floor(audio.length / frameSize);
      const path = join(outDir, `${prefix}-${frameSize}.safetensors`);
      await writeSafetensors(
        path,
        [
          { name: 'input', dtype: 'F32', shape: [frames, frameSize], data: bytesOf(audio.slice(0, frames * frameSize)) },
          { name: 'sr', dtype: 'I64', shape: [], data: bytesOf(sr) },
        ],
        {
          recipe: 'scripts/inputs/vad.ts',
          seed: String(seed),
          sample_rate: String(SAMPLE_RATE),
          seconds: (audio.length / SAMPLE_RATE).toFixed(2),
          sentences: String(sentences.length),
          variant,
        },
      );
      files.push({ path, frames, frameSize });
    }
    return { files, seconds: audio.length / SAMPLE_RATE };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const [seed, variant] of [[20240601, 'eval'], [777, 'calib']] as const) {
    const res = await buildVadInputs(process.argv[2] ?? INPUTS_DIR, seed, variant);
    for (const f of res.files) console.log(`${f.path}: ${f.frames} frames of ${f.frameSize} samples (${res.seconds.toFixed(1)} s at 16 kHz)`);
  }
}
