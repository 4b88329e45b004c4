/**
 * The OpenAPI 3.1 description of the dashboard routes and /metrics (origin), kept beside api.ts so
 * the two change together; docs/openapi.json carries the same objects (a test checks they match,
 * another validates real responses against the document). The page at `/` and the edge's
 * `/v1/edge/status` are not origin API routes: only the EdgeStatus schema is in the document
 * (docs/openapi.json lists exactly the origin's route table). Data only.
 */

type Schema = Record<string, unknown>;

const int = { type: 'integer', minimum: 0 };
const num = { type: 'number', minimum: 0 };
const str = { type: 'string' };
const ratio = { type: 'number', minimum: 0, maximum: 1 };
const nullable = (s: Schema): Schema => ({ ...s, type: [s['type'] as string, 'null'] });
const ref = (n: string) => ({ $ref: `#/components/schemas/${n}` });
const obj = (required: string[], properties: Record<string, unknown>): Schema => ({ type: 'object', required, properties });

export const DASHBOARD_SCHEMAS: Record<string, Schema> = {
  DashboardPatchStage: obj(['fromVersion', 'bytes', 'patchedFiles', 'unchangedFiles', 'fullFiles'], {
    fromVersion: str,
    bytes: int,
    patchedFiles: int,
    unchangedFiles: int,
    fullFiles: int,
  }),
  DashboardVersion: obj(['version', 'status', 'createdAt', 'readyAt', 'channels', 'files', 'sizes', 'savedBytes', 'savedRatio'], {
    version: str,
    status: { type: 'string', enum: ['pending', 'ready', 'failed'] },
    createdAt: { type: 'string', format: 'date-time' },
    readyAt: { type: ['string', 'null'], format: 'date-time' },
    channels: { type: 'array', items: str },
    files: int,
    sizes: obj(['original', 'int8', 'packed', 'patch'], {
      original: int,
      int8: nullable(int),
      packed: nullable(int),
      patch: { oneOf: [ref('DashboardPatchStage'), { type: 'null' }] },
    }),
    savedBytes: int,
    savedRatio: ratio,
  }),
  DashboardModels: obj(['models', 'totals'], {
    models: {
      type: 'array',
      items: obj(['name', 'latest', 'versions'], { name: str, latest: nullable(str), versions: { type: 'array', items: ref('DashboardVersion') } }),
    },
    totals: obj(['models', 'versions', 'originalBytes', 'savedBytes'], { models: int, versions: int, originalBytes: int, savedBytes: int }),
  }),
  DashboardEdge: obj(['region', 'lastReportAt', 'reports', 'requests', 'hits', 'bytes', 'hitRatio', 'cache', 'series'], {
    region: str,
    lastReportAt: { type: 'string', format: 'date-time' },
    reports: int,
    requests: int,
    hits: int,
    bytes: int,
    hitRatio: nullable(ratio),
    cache: {
      oneOf: [
        obj(['usedBytes', 'capacityBytes', 'entries', 'pinnedBytes', 'reportedAt'], { usedBytes: int, capacityBytes: int, entries: int, pinnedBytes: int, reportedAt: { type: 'string', format: 'date-time' } }),
        { type: 'null' },
      ],
    },
    series: obj(['t', 'hitRatio', 'requests', 'bytes'], {
      t: { type: 'array', items: int },
      hitRatio: { type: 'array', items: nullable(ratio) },
      requests: { type: 'array', items: int },
      bytes: { type: 'array', items: int },
    }),
  }),
  DashboardEdges: obj(['windowSeconds', 'bucketSeconds', 'edges', 'originEgress'], {
    windowSeconds: int,
    bucketSeconds: int,
    edges: { type: 'array', items: ref('DashboardEdge') },
    originEgress: obj(['t', 'bytes', 'bucketSeconds', 'totalBytes'], { t: { type: 'array', items: int }, bytes: { type: 'array', items: int }, bucketSeconds: int, totalBytes: int }),
  }),
  DashboardStaging: obj(['available', 'staged'], {
    available: { type: 'boolean' },
    staged: {
      type: 'array',
      items: obj(['name', 'version', 'status', 'stagedAt', 'deployedAt', 'totalBytes', 'readyEdges', 'knownEdges', 'edges'], {
        name: str,
        version: str,
        status: { type: 'string', enum: ['staged', 'deployed', 'unstaged'] },
        stagedAt: { type: 'string', format: 'date-time' },
        deployedAt: { type: ['string', 'null'], format: 'date-time' },
        totalBytes: int,
        readyEdges: int,
        knownEdges: int,
        edges: {
          type: 'array',
          items: obj(['edge', 'region', 'readyBytes', 'totalBytes', 'ready', 'connected'], { edge: str, region: str, readyBytes: int, totalBytes: int, ready: { type: 'boolean' }, connected: { type: 'boolean' } }),
        },
      }),
    },
  }),
  DashboardPlacement: obj(['planned', 'windowSeconds', 'regions', 'models', 'cells'], {
    planned: { type: 'boolean' },
    windowSeconds: int,
    regions: { type: 'array', items: str },
    models: { type: 'array', items: str },
    cells: { type: 'array', items: obj(['region', 'model', 'requests', 'bytes', 'pinnedBytes'], { region: str, model: str, requests: int, bytes: int, pinnedBytes: int }) },
  }),
  DashboardCost: obj(['windowSeconds', 'prices', 'servedBytes', 'originalBytes', 'scenarios', 'edgeStorageBytes', 'edgeStorageUsdPerMonth'], {
    windowSeconds: int,
    prices: obj(['originEgressPerGB', 'interRegionPerGB', 'edgeStoragePerGBMonth'], { originEgressPerGB: num, interRegionPerGB: num, edgeStoragePerGBMonth: num }),
    servedBytes: int,
    originalBytes: int,
    scenarios: {
      type: 'array',
      items: obj(['id', 'label', 'originEgressBytes', 'usd'], { id: { type: 'string', enum: ['raw-origin', 'optimized-origin', 'modelcdn'] }, label: str, originEgressBytes: int, usd: num }),
    },
    edgeStorageBytes: int,
    edgeStorageUsdPerMonth: num,
  }),
  DashboardSnapshot: obj(['generatedAt', 'role', 'models', 'edges', 'staging', 'placement', 'cost'], {
    generatedAt: { type: 'string', format: 'date-time' },
    role: { const: 'origin' },
    models: ref('DashboardModels'),
    edges: ref('DashboardEdges'),
    staging: ref('DashboardStaging'),
    placement: ref('DashboardPlacement'),
    cost: ref('DashboardCost'),
  }),
  EdgeStatus: obj(['role', 'region', 'upstream', 'uptimeSeconds', 'cache', 'demandReports', 'pins', 'samples'], {
    role: { const: 'edge' },
    region: str,
    upstream: { type: 'array', items: str },
    uptimeSeconds: int,
    cache: obj(['entries', 'usedBytes', 'capacityBytes', 'pinnedBytes', 'filling', 'hits', 'misses', 'coalesced', 'bypasses', 'upstreamFetches', 'hitRatio'], {
      entries: int,
      usedBytes: int,
      capacityBytes: int,
      pinnedBytes: int,
      filling: int,
      hits: int,
      misses: int,
      coalesced: int,
      bypasses: int,
      upstreamFetches: int,
      hitRatio: nullable(ratio),
    }),
    demandReports: obj(['sent', 'failures'], { sent: int, failures: int }),
    pins: int,
    samples: { type: 'array', items: obj(['t', 'hits', 'misses', 'usedBytes'], { t: int, hits: int, misses: int, usedBytes: int }) },
  }),
};

const windowParam = {
  name: 'window',
  in: 'query',
  required: false,
  description: 'look-back in seconds (60 to 2592000; default 86400)',
  schema: { type: 'integer', minimum: 60, maximum: 2592000 },
};

const json = (schema: string, description: string, params = false): Schema => ({
  get: {
    tags: ['dashboard'],
    summary: description,
    ...(params ? { parameters: [windowParam] } : {}),
    responses: {
      '200': { description, content: { 'application/json': { schema: ref(schema) } } },
      ...(params ? { '400': { description: 'bad window', content: { 'application/json': { schema: ref('Error') } } } } : {}),
    },
  },
});

export const DASHBOARD_PATHS: Record<string, Schema> = {
  '/v1/dashboard': { get: { ...(json('DashboardSnapshot', 'everything the dashboard shows, in one document', true)['get'] as Schema), operationId: 'dashboardSnapshot' } },
  '/v1/dashboard/models': { get: { ...(json('DashboardModels', 'models and versions with their size at every delivery stage')['get'] as Schema), operationId: 'dashboardModels' } },
  '/v1/dashboard/edges': { get: { ...(json('DashboardEdges', 'edges: demand, hit ratio over time, cache use, origin egress', true)['get'] as Schema), operationId: 'dashboardEdges' } },
  '/v1/dashboard/staging': { get: { ...(json('DashboardStaging', 'staged versions with per-edge readiness')['get'] as Schema), operationId: 'dashboardStaging' } },
  '/v1/dashboard/placement': { get: { ...(json('DashboardPlacement', 'regions × models demand and placement pins', true)['get'] as Schema), operationId: 'dashboardPlacement' } },
  '/v1/dashboard/cost': { get: { ...(json('DashboardCost', 'the window\'s traffic priced: raw files from the origin vs packed/patched vs measured with edges', true)['get'] as Schema), operationId: 'dashboardCost' } },
  '/v1/events': {
    get: {
      tags: ['dashboard'],
      operationId: 'events',
      summary: 'live updates (server-sent events): `event: snapshot` with a DashboardSnapshot on connect and on every change',
      responses: { '200': { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '503': { description: 'too many open streams' } },
    },
  },
  '/metrics': {
    get: {
      tags: ['metrics'],
      operationId: 'metrics',
      summary: 'Prometheus metrics (origin and edges)',
      responses: { '200': { description: 'Prometheus text exposition 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
};
