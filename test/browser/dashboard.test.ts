/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core. An origin and two
 * edges on loopback — one serving clients, one running the prefetcher (so its lookups do not mix
 * into the client numbers); a model published in two versions and pulled twice through the first
 * edge (second pull: cache hits); its demand report flushed; then the page is checked against
 * numbers from independent sources (the registry, the edge's own cache counters, the stage API): the model's sizes, the hit ratio and its chart, the cache meter, the staging
 * section (empty, then a readiness bar that fills live over SSE after `stage`), the heatmap, the
 * edge's status page, keyboard entry, and no request to any other host. Screenshots at 1280 px and
 * 390 px go to .tmp/test-output/.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildWeb, DIST_DIR, WEB_DIR } from '../../scripts/build-web.ts';
import { pull } from '../../src/cdn/client/index.ts';
import type { DashboardSnapshot } from '../../src/cdn/dashboard/api.ts';
import { startEdge, type EdgeServer } from '../../src/cdn/edge/server.ts';
import { collectFiles, publish } from '../../src/cdn/origin/publish-client.ts';
import { startOrigin, type OriginServer } from '../../src/cdn/origin/server.ts';
import { fmtBytes, fmtPct } from '../../web/src/format.ts';
import { REPO_ROOT } from '../fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(REPO_ROOT, '.tmp', 'test-output');
const REGION = 'eu-west';
const PREFETCH_REGION = 'us-east';
const MODEL = 'browser-demo';

let dir: string;
let origin: OriginServer;
let edge: EdgeServer;
let prefetchEdge: EdgeServer;
let browser: BrowserContext;
let userDataDir: string;
let token: string;
const offsite: string[] = [];

function weights(n: number, seed: number): Buffer {
  const f = new Float32Array(n / 4);
  let s = seed;
  for (let i = 0; i < f.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    f[i] = Math.round(Math.sin(i / 60) * 40 + ((s >>> 16) % 3)) / 40;
  }
  return Buffer.from(f.buffer);
}

/** rebuild web/dist when it is missing or older than its sources */
async function ensureBuilt(): Promise<void> {
  const built = join(DIST_DIR, 'assets', 'app.js');
  const newest = async (d: string): Promise<number> => {
    let t = 0;
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      t = Math.max(t, e.isDirectory() ? await newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  const src = Math.max(await newest(join(WEB_DIR, 'src')), statSync(join(WEB_DIR, 'index.html')).mtimeMs, statSync(join(REPO_ROOT, 'src/cdn/dashboard/api.ts')).mtimeMs);
  if (!existsSync(built) || statSync(built).mtimeMs < src) await buildWeb();
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  await ensureBuilt();
  await mkdir(OUT, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), 'mcdn-browser-'));
  origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port: 0 });
  token = origin.registry.createToken('t').token;
  const v1 = weights(240_000, 1);
  const v2 = Buffer.from(v1);
  for (let i = 9000; i < 11_000; i++) v2[i] ^= 0x21;
  for (const [version, b] of [['1.0', v1], ['1.1', v2]] as const) {
    const d = join(dir, `src-${version}`);
    await mkdir(d);
    await writeFile(join(d, 'model.bin'), b);
    await writeFile(join(d, 'config.json'), JSON.stringify({ version, labels: ['a', 'b'] }));
    const r = await publish({ server: origin.url, token, name: MODEL, version, files: await collectFiles([d]) });
    assert.equal(r.job?.status, 'done');
  }
  edge = await startEdge({
    origin: origin.url,
    region: REGION,
    cacheDir: join(dir, 'edge'),
    cacheSizeBytes: 8_000_000,
    port: 0,
    demandIntervalMs: 0,
  });
  prefetchEdge = await startEdge({
    origin: origin.url,
    region: PREFETCH_REGION,
    cacheDir: join(dir, 'edge-prefetch'),
    cacheSizeBytes: 8_000_000,
    port: 0,
    demandIntervalMs: 0,
    prefetch: { isOffPeak: () => true, sseBackoffMs: { min: 50, max: 200 } },
  });
  // two clients pull the same version through the edge: misses, then hits
  await pull({ ref: `${MODEL}@1.0`, server: edge.url, outDir: join(dir, 'out-a'), home: join(dir, 'home-a') });
  await pull({ ref: `${MODEL}@1.0`, server: edge.url, outDir: join(dir, 'out-b'), home: join(dir, 'home-b') });
  // the edge records a request's demand just after its last byte is written: let it land
  await new Promise((r) => setTimeout(r, 100));
  await edge.reporter.flush();
  assert.equal(edge.reporter.sent, 1);

  userDataDir = await mkdtemp(join(tmpdir(), 'mcdn-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  browser.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin.url) && !u.startsWith(edge.url) && !u.startsWith('data:')) offsite.push(u);
  });
});

after(async () => {
  await browser?.close();
  await prefetchEdge?.close();
  await edge?.close();
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

async function snapshot(): Promise<DashboardSnapshot> {
  return (await (await fetch(`${origin.url}/v1/dashboard`)).json()) as DashboardSnapshot;
}

async function openDashboard(width: number): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(origin.url + '/');
  await page.getByTestId('models-table').waitFor();
  await page.locator('[data-testid=live].live-live').waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  return page;
}

test('the dashboard shows the model, the hit ratio chart and the staging section with the right numbers', async () => {
  const page = await openDashboard(1280);

  // models: sizes from the registry, not from the dashboard API
  for (const version of ['1.0', '1.1']) {
    const v = origin.registry.getVersion(MODEL, version)!;
    const files = origin.registry.files(v.id);
    const original = files.reduce((a, f) => a + f.size, 0);
    const packed = files.reduce((a, f) => a + Math.min(f.size, origin.registry.artifacts(f.sha256).find((x) => x.kind === 'packed')?.size ?? f.size), 0);
    const row = page.locator(`tr[data-model="${MODEL}"][data-version="${version}"]`);
    assert.equal(await row.locator('[data-col=original]').innerText(), fmtBytes(original), `original of ${version}`);
    assert.equal(await row.locator('[data-col=packed]').innerText(), fmtBytes(packed), `packed of ${version}`);
    assert.ok(packed < original, 'packing shrank the model');
  }
  // update 1.0 → 1.1: the weights as a patch, the changed config as its smallest full form
  const before = new Map(origin.registry.files(origin.registry.getVersion(MODEL, '1.0')!.id).map((f) => [f.path, f]));
  let update = 0;
  let patched = 0;
  for (const f of origin.registry.files(origin.registry.getVersion(MODEL, '1.1')!.id)) {
    const old = before.get(f.path)!;
    if (old.sha256 === f.sha256) continue;
    const full = Math.min(f.size, origin.registry.artifacts(f.sha256).find((x) => x.kind === 'packed')?.size ?? f.size);
    const p = origin.registry.getPatch(old.sha256, f.sha256);
    if (p?.beneficial && p.size! < full) {
      update += p.size!;
      patched++;
    } else update += full;
  }
  assert.equal(patched, 1, 'the weights went out as a patch');
  assert.equal(await page.locator(`tr[data-version="1.1"] [data-col=patch]`).innerText(), `${fmtBytes(update)} (from 1.0)`);

  // hit ratio: the edge's own counters (two identical pulls: the second one all hits)
  const st = edge.cache.getStats();
  assert.ok(st.hits > 0 && st.hits === st.misses, `hits ${st.hits} misses ${st.misses}`);
  const ratio = st.hits / (st.hits + st.misses);
  const edgeRow = page.locator(`tr[data-region="${REGION}"]`);
  assert.equal(await edgeRow.locator('[data-col=hit-ratio]').innerText(), fmtPct(ratio));
  assert.equal(await edgeRow.locator('[data-col=hit-ratio]').innerText(), '50.0%');
  const chart = page.locator('#hit-ratio-chart');
  assert.equal(await chart.locator('canvas').count(), 1, 'uPlot drew the chart on a canvas');
  assert.match(await chart.locator('figcaption').innerText(), new RegExp(`50\\.0% of ${st.hits + st.misses} requests were cache hits`));
  assert.ok(Number(await chart.getAttribute('data-points')) >= 1);
  await chart.locator('summary').click();
  assert.equal(await chart.locator('table.data tbody tr').first().locator('td').nth(1).innerText(), '50%');
  // cache use vs budget, as the edge reported it with its demand report
  const meter = page.getByTestId(`cache-${REGION}`);
  assert.equal(await meter.getAttribute('aria-valuetext'), `${fmtBytes(st.usedBytes)} of ${fmtBytes(8_000_000)}`);

  // heatmap: requests the edge attributed to the model (blobs it cannot attribute, like chunk
  // manifests fetched without their version, count for the edge but not for a model)
  const requests = origin.registry.demandRows(REGION).filter((d) => d.model === MODEL).reduce((a, d) => a + d.requests, 0);
  assert.ok(requests > 0 && requests <= st.hits + st.misses);
  assert.equal((await page.locator(`td.heat[data-region="${REGION}"][data-model="${MODEL}"]`).innerText()).replace(' ●', ''), String(requests));

  // cost: the window's deliveries priced three ways (raw from the origin, packed/patched, measured)
  const costRows = page.locator('[data-testid="cost"] tbody tr');
  await costRows.first().waitFor();
  assert.deepEqual(await costRows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-scenario'))), ['raw-origin', 'optimized-origin', 'modelcdn']);
  const cost = (await snapshot()).cost;
  assert.ok(cost.originalBytes >= cost.servedBytes && cost.servedBytes > 0);
  assert.equal(await costRows.nth(1).locator('td').first().innerText(), fmtBytes(cost.servedBytes));

  // staging: nothing staged yet
  await page.getByTestId('staging-empty').waitFor();
  assert.match(await page.getByTestId('staging-empty').innerText(), /No staged versions\./);

  // stage 1.1: the prefetching edge fetches it; the bar fills on the open page (SSE, no reload)
  const r = await fetch(`${origin.url}/v1/stages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: MODEL, version: '1.1' }) });
  assert.equal(r.status, 201);
  const stage = await until('the edge to report 1.1 ready', async () => {
    const s = (await snapshot()).staging.staged.find((x) => x.version === '1.1');
    return s && s.readyEdges === 1 ? s : undefined;
  });
  assert.deepEqual(stage.edges.map((e) => e.region), [PREFETCH_REGION], 'only the edge with a prefetcher takes part');
  const bar = page.getByTestId(`readiness-${stage.edges[0]!.edge}`);
  await bar.waitFor({ timeout: 10_000 });
  await until('the readiness bar to fill', async () => ((await bar.getAttribute('aria-valuenow')) === '100' ? true : undefined), 10_000);
  assert.equal(await bar.getAttribute('aria-valuetext'), `ready (${fmtBytes(stage.edges[0]!.totalBytes)})`);
  assert.ok(stage.edges[0]!.totalBytes > 0 && stage.edges[0]!.readyBytes === stage.edges[0]!.totalBytes);
  assert.match(await page.locator(`[data-stage="${MODEL}@1.1"] h3`).innerText(), /ready on 1 of 1 edges/);

  await page.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true });
  await page.close();
});

test('keyboard: skip link first, sections reachable, tables scrollable by keyboard', async () => {
  const page = await openDashboard(1280);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => location.hash), '#main');
  const labelled = await page.evaluate(() => [...document.querySelectorAll('section')].every((s) => !!s.getAttribute('aria-labelledby') && !!document.getElementById(s.getAttribute('aria-labelledby')!)));
  assert.ok(labelled, 'every section is labelled by its heading');
  assert.ok((await page.locator('.scroll[tabindex="0"][role=region][aria-label]').count()) >= 2);
  await page.close();
});

test('phone width: no horizontal page scroll, tables become cards', async () => {
  const page = await openDashboard(390);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px at 390 px`);
  assert.equal(await page.locator(`tr[data-version="1.0"] [data-col=original]`).evaluate((el) => getComputedStyle(el).display), 'flex');
  await page.screenshot({ path: join(OUT, 'dashboard-390.png'), fullPage: true });
  await page.close();
});

test("the edge's status page shows its own numbers", async () => {
  const page = await browser.newPage();
  await page.goto(edge.url + '/');
  await page.getByTestId('edge-hit-ratio').waitFor();
  const st = edge.cache.getStats();
  assert.equal(await page.locator('h1').innerText(), `modelcdn edge · ${REGION}`);
  assert.equal(await page.getByTestId('edge-hit-ratio').innerText(), fmtPct(st.hits / (st.hits + st.misses)));
  assert.equal(await page.getByTestId('edge-hits').innerText(), String(st.hits));
  assert.equal(await page.locator('#edge-hit-ratio-chart canvas').count(), 1);
  await page.screenshot({ path: join(OUT, 'edge-status.png'), fullPage: true });
  await page.close();
  assert.deepEqual(offsite, [], 'the pages asked no other host for anything');
});
