'use strict';
// The compiled addon (node-gyp rebuild, run by `npm ci`). Loading throws when it was not built; callers
// fall back to node:crypto on the calling thread (src/util/native.ts).
module.exports = require('./build/Release/modelcdn_native.node');
