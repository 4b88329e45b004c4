/*
 * modelcdn's native addon: sha256 on libuv's thread pool, so that verifying a file or a stream of
 * buffers runs beside the JavaScript thread's own work without the start-up cost of a worker thread
 * (~40 ms for a Node.js Worker here, against microseconds for a thread-pool job).
 *
 *   sha256Create()                      -> handle      an incremental context
 *   sha256Update(handle, bytes)         -> Promise     hashed on the thread pool (one at a time)
 *   sha256UpdateSync(handle, bytes)                    hashed on the calling thread
 *   sha256Digest(handle)                -> hex string  finishes the handle
 *   sha256File(path, offset, length)    -> Promise<hex>  read (pread) and hashed on the thread pool
 *   startWriteback(fd, offset, length)  -> Promise     sync_file_range(SYNC_FILE_RANGE_WRITE) on the pool
 *   bzip2CompressInto(data, out, at, blockSize100k) -> bytes written   libbz2 (only when built with it)
 *   bzip2DecompressExact(data, out)                                    libbz2: exactly out.length bytes
 *
 * The digest is OpenSSL's (EVP_sha256: SHA-NI where the CPU has it), from the OpenSSL that Node.js
 * itself links and exports, so the addon carries no crypto code of its own and needs only Node's
 * headers to build. Pure N-API (version 8): one build serves every Node.js release that has it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sync_file_range */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <node_api.h>
#include <openssl/evp.h>
#include <uv.h>
#ifdef HAVE_BZLIB
#include <bzlib.h>
#endif

/* bytes per pread in sha256File */
#define READ_BYTES (1 << 20)

static const napi_type_tag HASHER_TAG = {0x6d6f64656c63646eULL, 0x7368613235362d31ULL};

typedef struct {
  EVP_MD_CTX *md;
  int busy;     /* an update is on the thread pool */
  int finished; /* digested, or an update failed */
} Hasher;

/* ---- helpers ------------------------------------------------------------------------------- */

static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  return err;
}

static void throw_error(napi_env env, const char *code, const char *message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw(env, make_error(env, code, message));
}

/* Throw for a failed napi_* call (unless it already left an exception pending). */
static void throw_napi(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  throw_error(env, "ERR_NATIVE", info && info->error_message ? info->error_message : "N-API call failed");
}

#define NAPI_OK(call)       \
  do {                      \
    if ((call) != napi_ok) { \
      throw_napi(env);      \
      return NULL;          \
    }                       \
  } while (0)

static void to_hex(const unsigned char *md, unsigned len, char *out) {
  static const char HEX[] = "0123456789abcdef";
  for (unsigned i = 0; i < len; i++) {
    out[2 * i] = HEX[md[i] >> 4];
    out[2 * i + 1] = HEX[md[i] & 15];
  }
  out[2 * len] = 0;
}

/* The bytes of a Uint8Array (a Buffer is one). */
static int get_bytes(napi_env env, napi_value v, const unsigned char **ptr, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, len, &data, NULL, NULL) != napi_ok) return 0;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) return 0;
  *ptr = data;
  return 1;
}

static Hasher *get_hasher(napi_env env, napi_value v) {
  bool ok = false;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) goto bad;
  if (napi_check_object_type_tag(env, v, &HASHER_TAG, &ok) != napi_ok || !ok) goto bad;
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) goto bad;
  return data;
bad:
  throw_error(env, "ERR_INVALID_ARG_TYPE", "expected a handle from sha256Create()");
  return NULL;
}

/*
 * Queue `data` (whose struct starts with its napi_async_work and napi_deferred, in that order) on the
 * thread pool with a new promise; `*promise` receives it. Returns 0 with an exception pending on
 * failure (the caller frees `data`).
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
} JobHead;

static int queue_job(napi_env env, const char *name, napi_async_execute_callback execute, napi_async_complete_callback complete, void *data, napi_value *promise) {
  JobHead *j = data;
  napi_value resource;
  if (napi_create_promise(env, &j->deferred, promise) != napi_ok || napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource) != napi_ok ||
      napi_create_async_work(env, NULL, resource, execute, complete, data, &j->work) != napi_ok) {
    throw_napi(env);
    return 0;
  }
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    napi_delete_async_work(env, j->work);
    throw_napi(env);
    return 0;
  }
  return 1;
}

/* ---- incremental contexts ------------------------------------------------------------------ */

static void hasher_free(napi_env env, void *data, void *hint) {
  Hasher *h = data;
  EVP_MD_CTX_free(h->md);
  free(h);
}

static napi_value sha256_create(napi_env env, napi_callback_info info) {
  Hasher *h = calloc(1, sizeof *h);
  if (!h) {
    throw_error(env, "ENOMEM", "sha256: out of memory");
    return NULL;
  }
  h->md = EVP_MD_CTX_new();
  if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(h->md);
    free(h);
    throw_error(env, "ERR_SHA256", "sha256: OpenSSL could not set up a digest");
    return NULL;
  }
  napi_value ext;
  if (napi_create_external(env, h, hasher_free, NULL, &ext) != napi_ok) {
    hasher_free(env, h, NULL);
    throw_napi(env);
    return NULL;
  }
  NAPI_OK(napi_type_tag_object(env, ext, &HASHER_TAG));
  return ext;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref bytes_ref;  /* keeps the caller's array alive while the pool reads it */
  napi_ref hasher_ref; /* keeps the handle alive */
  Hasher *h;
  const unsigned char *ptr;
  size_t len;
  int ok;
} UpdateJob;

static void update_execute(napi_env env, void *data) {
  UpdateJob *j = data;
  j->ok = EVP_DigestUpdate(j->h->md, j->ptr, j->len) == 1;
}

static void update_complete(napi_env env, napi_status status, void *data) {
  UpdateJob *j = data;
  j->h->busy = 0;
  napi_delete_reference(env, j->bytes_ref);
  napi_delete_reference(env, j->hasher_ref);
  if (status == napi_ok && j->ok) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, j->deferred, undef);
  } else {
    j->h->finished = 1; /* the context no longer describes the stream */
    napi_reject_deferred(env, j->deferred, make_error(env, "ERR_SHA256", status == napi_cancelled ? "sha256: update cancelled" : "sha256: update failed"));
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

static Hasher *usable_hasher(napi_env env, napi_value v) {
  Hasher *h = get_hasher(env, v);
  if (!h) return NULL;
  if (h->busy) {
    throw_error(env, "ERR_SHA256_BUSY", "sha256: an update of this handle is still in flight; await it first");
    return NULL;
  }
  if (h->finished) {
    throw_error(env, "ERR_SHA256_FINISHED", "sha256: the handle is finished (digested or failed)");
    return NULL;
  }
  return h;
}

/* The usable handle and the bytes of an update call `fn(handle, bytes)`; NULL with an exception pending. */
static Hasher *update_args(napi_env env, napi_callback_info info, const char *fn, napi_value argv[2], const unsigned char **ptr, size_t *len) {
  size_t argc = 2;
  char msg[96];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_napi(env);
    return NULL;
  }
  if (argc < 2) {
    snprintf(msg, sizeof msg, "%s(handle, bytes)", fn);
    throw_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  Hasher *h = usable_hasher(env, argv[0]);
  if (!h) return NULL;
  if (!get_bytes(env, argv[1], ptr, len)) {
    snprintf(msg, sizeof msg, "%s: bytes must be a Uint8Array", fn);
    throw_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  return h;
}

static napi_value sha256_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  const unsigned char *ptr;
  size_t len;
  Hasher *h = update_args(env, info, "sha256Update", argv, &ptr, &len);
  if (!h) return NULL;
  UpdateJob *j = calloc(1, sizeof *j);
  if (!j) {
    throw_error(env, "ENOMEM", "sha256: out of memory");
    return NULL;
  }
  j->h = h;
  j->ptr = ptr;
  j->len = len;
  napi_value promise;
  if (napi_create_reference(env, argv[1], 1, &j->bytes_ref) != napi_ok || napi_create_reference(env, argv[0], 1, &j->hasher_ref) != napi_ok) {
    throw_napi(env);
  } else if (queue_job(env, "modelcdn.sha256Update", update_execute, update_complete, j, &promise)) {
    h->busy = 1;
    return promise;
  }
  if (j->bytes_ref) napi_delete_reference(env, j->bytes_ref);
  if (j->hasher_ref) napi_delete_reference(env, j->hasher_ref);
  free(j);
  return NULL;
}

static napi_value sha256_update_sync(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  const unsigned char *ptr;
  size_t len;
  Hasher *h = update_args(env, info, "sha256UpdateSync", argv, &ptr, &len);
  if (!h) return NULL;
  if (EVP_DigestUpdate(h->md, ptr, len) != 1) {
    h->finished = 1;
    throw_error(env, "ERR_SHA256", "sha256: update failed");
  }
  return NULL;
}

static napi_value sha256_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    throw_error(env, "ERR_INVALID_ARG_TYPE", "sha256Digest(handle)");
    return NULL;
  }
  Hasher *h = usable_hasher(env, argv[0]);
  if (!h) return NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  h->finished = 1;
  if (EVP_DigestFinal_ex(h->md, md, &len) != 1) {
    throw_error(env, "ERR_SHA256", "sha256: digest failed");
    return NULL;
  }
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  to_hex(md, len, hex);
  napi_value out;
  NAPI_OK(napi_create_string_utf8(env, hex, NAPI_AUTO_LENGTH, &out));
  return out;
}

/* ---- whole files --------------------------------------------------------------------------- */

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  int64_t offset;
  int64_t length;
  int err;             /* errno of the failed call; -1: the file ended early */
  const char *syscall; /* the call that failed */
  char hex[2 * EVP_MAX_MD_SIZE + 1];
} FileJob;

static void file_execute(napi_env env, void *data) {
  FileJob *j = data;
  unsigned char *buf = NULL;
  EVP_MD_CTX *md = NULL;
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    j->err = errno;
    j->syscall = "open";
    return;
  }
#ifdef POSIX_FADV_SEQUENTIAL
  posix_fadvise(fd, j->offset, j->length, POSIX_FADV_SEQUENTIAL);
#endif
  buf = malloc(READ_BYTES);
  md = EVP_MD_CTX_new();
  if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    j->err = ENOMEM;
    j->syscall = "malloc";
    goto done;
  }
  for (int64_t at = j->offset, end = j->offset + j->length; at < end;) {
    size_t want = end - at < READ_BYTES ? (size_t)(end - at) : READ_BYTES;
    ssize_t n = pread(fd, buf, want, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      j->err = errno;
      j->syscall = "read";
      goto done;
    }
    if (n == 0) {
      j->err = -1;
      j->syscall = "read";
      goto done;
    }
    if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
      j->err = EIO;
      j->syscall = "sha256";
      goto done;
    }
    at += n;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(md, digest, &len) != 1) {
    j->err = EIO;
    j->syscall = "sha256";
    goto done;
  }
  to_hex(digest, len, j->hex);
done:
  EVP_MD_CTX_free(md);
  free(buf);
  close(fd);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

static void file_complete(napi_env env, napi_status status, void *data) {
  FileJob *j = data;
  if (status == napi_ok && j->err == 0) {
    napi_value hex;
    napi_create_string_utf8(env, j->hex, NAPI_AUTO_LENGTH, &hex);
    napi_resolve_deferred(env, j->deferred, hex);
  } else {
    char msg[512];
    napi_value err;
    if (status != napi_ok) {
      err = make_error(env, "ERR_SHA256", "sha256File: cancelled");
    } else if (j->err == -1) {
      snprintf(msg, sizeof msg, "%s: file ended before %lld bytes from offset %lld", j->path, (long long)j->length, (long long)j->offset);
      err = make_error(env, "ERR_FILE_SHRANK", msg);
    } else {
      /* shaped like Node's own system errors, so callers map them the same way */
      const char *code = uv_err_name(-j->err);
      snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code, strerror(j->err), j->syscall, j->path);
      err = make_error(env, code, msg);
      napi_value errno_v;
      if (napi_create_int32(env, -j->err, &errno_v) == napi_ok) napi_set_named_property(env, err, "errno", errno_v);
      set_string(env, err, "syscall", j->syscall);
      set_string(env, err, "path", j->path);
    }
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_async_work(env, j->work);
  free(j->path);
  free(j);
}

static int get_int64(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= 9007199254740991.0) || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

static napi_value sha256_file(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  size_t plen = 0;
  int64_t offset, length;
  if (argc < 3 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string || !get_int64(env, argv[1], &offset) || !get_int64(env, argv[2], &length) ||
      offset + length > 9007199254740991LL) {
    throw_error(env, "ERR_INVALID_ARG_TYPE", "sha256File(path: string, offset: safe integer >= 0, length: safe integer >= 0)");
    return NULL;
  }
  NAPI_OK(napi_get_value_string_utf8(env, argv[0], NULL, 0, &plen));
  FileJob *j = calloc(1, sizeof *j);
  char *path = malloc(plen + 1);
  if (!j || !path) {
    free(j);
    free(path);
    throw_error(env, "ENOMEM", "sha256File: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], path, plen + 1, &plen);
  if (strlen(path) != plen) {
    free(j);
    free(path);
    throw_error(env, "ERR_INVALID_ARG_VALUE", "sha256File: path contains a NUL byte");
    return NULL;
  }
  j->path = path;
  j->offset = offset;
  j->length = length;
  napi_value promise;
  if (queue_job(env, "modelcdn.sha256File", file_execute, file_complete, j, &promise)) return promise;
  free(j->path);
  free(j);
  return NULL;
}

/* ---- early writeback ---------------------------------------------------------------------- */

/*
 * sync_file_range(SYNC_FILE_RANGE_WRITE): start writing a just-written range of a file to its device
 * without waiting for it and without a cache flush, so that the fsync a durable write ends with
 * finds the data already on its way (it then waits only for what is in flight, the flush and the
 * journal). Linux only; elsewhere the promise resolves having done nothing.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int64_t offset;
  int64_t length;
  int err;
} WritebackJob;

static void writeback_execute(napi_env env, void *data) {
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
  WritebackJob *j = data;
  if (sync_file_range(j->fd, j->offset, j->length, SYNC_FILE_RANGE_WRITE) != 0) j->err = errno;
#else
  (void)data;
#endif
}

static void writeback_complete(napi_env env, napi_status status, void *data) {
  WritebackJob *j = data;
  if (status == napi_ok && j->err == 0) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, j->deferred, undef);
  } else {
    char msg[256];
    const char *code = status == napi_ok ? uv_err_name(-j->err) : "ERR_CANCELLED";
    snprintf(msg, sizeof msg, "%s: %s, sync_file_range", code, status == napi_ok ? strerror(j->err) : "cancelled");
    napi_value err = make_error(env, code, msg);
    set_string(env, err, "syscall", "sync_file_range");
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value start_writeback(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd, offset, length;
  if (argc < 3 || !get_int64(env, argv[0], &fd) || fd > 0x7fffffff || !get_int64(env, argv[1], &offset) || !get_int64(env, argv[2], &length)) {
    throw_error(env, "ERR_INVALID_ARG_TYPE", "startWriteback(fd, offset, length: integers >= 0)");
    return NULL;
  }
  WritebackJob *j = calloc(1, sizeof *j);
  if (!j) {
    throw_error(env, "ENOMEM", "startWriteback: out of memory");
    return NULL;
  }
  j->fd = (int)fd;
  j->offset = offset;
  j->length = length;
  napi_value promise;
  if (queue_job(env, "modelcdn.startWriteback", writeback_execute, writeback_complete, j, &promise)) return promise;
  free(j);
  return NULL;
}

/* ---- bzip2 (libbz2) ----------------------------------------------------------------------- */

#ifdef HAVE_BZLIB
/*
 * One bzip2 stream of `data` written into `out` from byte `at` (the reference encoder: what Debian's
 * bsdiff writes, and ~15x faster than the JavaScript one). Throws ERR_BZIP2_ROOM when the stream does
 * not fit; returns its length.
 */
static napi_value bzip2_compress_into(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  const unsigned char *src, *dst;
  size_t slen, dlen;
  int64_t at, level;
  if (argc < 4 || !get_bytes(env, argv[0], &src, &slen) || !get_bytes(env, argv[1], &dst, &dlen) || !get_int64(env, argv[2], &at) || !get_int64(env, argv[3], &level) ||
      (size_t)at > dlen || level < 1 || level > 9 || slen > 0xffffffffu) {
    throw_error(env, "ERR_INVALID_ARG_TYPE", "bzip2CompressInto(data: Uint8Array, out: Uint8Array, at: offset within out, blockSize100k: 1..9)");
    return NULL;
  }
  size_t room = dlen - (size_t)at;
  unsigned int n = room > 0xffffffffu ? 0xffffffffu : (unsigned int)room;
  static char empty[1];
  int rc = BZ2_bzBuffToBuffCompress((char *)dst + at, &n, slen ? (char *)src : empty, (unsigned int)slen, (int)level, 0, 30);
  if (rc == BZ_OUTBUFF_FULL) {
    throw_error(env, "ERR_BZIP2_ROOM", "bzip2CompressInto: the stream does not fit in the room given");
    return NULL;
  }
  if (rc != BZ_OK) {
    char msg[64];
    snprintf(msg, sizeof msg, "bzip2CompressInto: libbz2 error %d", rc);
    throw_error(env, "ERR_BZIP2", msg);
    return NULL;
  }
  napi_value out;
  NAPI_OK(napi_create_double(env, (double)n, &out));
  return out;
}

/*
 * Decode one bzip2 stream into exactly out.length bytes: the stream must end there (a longer or
 * shorter stream, or a damaged one, throws ERR_BZIP2_CORRUPT with libbz2's error code).
 */
static napi_value bzip2_decompress_exact(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  const unsigned char *src, *dst;
  size_t slen, dlen;
  if (argc < 2 || !get_bytes(env, argv[0], &src, &slen) || !get_bytes(env, argv[1], &dst, &dlen) || slen > 0xffffffffu || dlen > 0xfffffffeu) {
    throw_error(env, "ERR_INVALID_ARG_TYPE", "bzip2DecompressExact(data: Uint8Array, out: Uint8Array)");
    return NULL;
  }
  bz_stream z;
  memset(&z, 0, sizeof z);
  if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK) {
    throw_error(env, "ENOMEM", "bzip2DecompressExact: libbz2 could not start");
    return NULL;
  }
  static char none[1];
  char probe[1];
  z.next_in = slen ? (char *)src : none;
  z.avail_in = (unsigned int)slen;
  int verdict = 0; /* 0 exact, -1 fewer, 1 more, else libbz2's error */
  int rc = BZ_OK;
  if (dlen > 0) {
    z.next_out = (char *)dst;
    z.avail_out = (unsigned int)dlen;
    rc = BZ2_bzDecompress(&z);
    if (rc == BZ_STREAM_END) verdict = z.avail_out == 0 ? 0 : -1;
    else if (rc == BZ_OK && z.avail_out > 0) verdict = -1; /* the input ran out first */
    else if (rc != BZ_OK) verdict = rc;
  }
  if (dlen == 0 || (rc == BZ_OK && z.avail_out == 0 && verdict == 0)) {
    /* out is full (or empty): the stream must end here, without one byte more */
    z.next_out = probe;
    z.avail_out = 1;
    rc = BZ2_bzDecompress(&z);
    if (rc == BZ_STREAM_END) verdict = z.avail_out == 1 ? 0 : 1;
    else if (rc == BZ_OK) verdict = z.avail_out == 1 ? -1 : 1;
    else verdict = rc;
  }
  BZ2_bzDecompressEnd(&z);
  if (verdict != 0) {
    char msg[96];
    if (verdict == 1) snprintf(msg, sizeof msg, "bzip2 stream decodes to more than %zu bytes", dlen);
    else if (verdict == -1) snprintf(msg, sizeof msg, "bzip2 stream ends before %zu bytes", dlen);
    else snprintf(msg, sizeof msg, "bzip2 stream is corrupt (libbz2 error %d)", verdict);
    throw_error(env, "ERR_BZIP2_CORRUPT", msg);
    return NULL;
  }
  return NULL;
}
#endif

/* ---- module -------------------------------------------------------------------------------- */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"sha256Create", NULL, sha256_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Update", NULL, sha256_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256UpdateSync", NULL, sha256_update_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Digest", NULL, sha256_digest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256File", NULL, sha256_file, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startWriteback", NULL, start_writeback, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
#ifdef HAVE_BZLIB
  napi_property_descriptor bz[] = {
      {"bzip2CompressInto", NULL, bzip2_compress_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bzip2DecompressExact", NULL, bzip2_decompress_exact, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 2, bz) != napi_ok) return NULL;
#endif
  return exports;
}
