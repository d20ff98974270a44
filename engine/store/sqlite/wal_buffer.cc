#include "store/sqlite/wal_buffer.h"

#include <sqlite3.h>

#include <cstring>
#include <mutex>

namespace banshi::store::sqlite {
namespace {

// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the
// length with 0x1ffff and reports a longer write as a full disk).
constexpr int kCapacity = 0x1ffff;

sqlite3_vfs* g_real = nullptr;  // the wrapped VFS, set once
thread_local bool t_defer_sync = false;  // DeferredLogSync
sqlite3_vfs g_vfs;              // ours

// What SQLite allocates for one of our files (g_vfs.szOsFile bytes): this
// struct, then the wrapped VFS's file. SQLite sees `base` only.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  bool gather;             // a write-ahead log: writes are gathered
  char* buffer;            // kCapacity bytes once the first write came
  int length;              // bytes gathered
  sqlite3_int64 offset;    // where the gathered bytes go in the file
  bool header_written;     // the log's header was written and not synced since
};

File* of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* real(sqlite3_file* f) { return of(f)->real; }

// Hands the gathered bytes on as one write. They are dropped either way: a
// failed write of a log frame fails its commit, and nothing retries it.
int flush(File* f) {
  if (f->length == 0) return SQLITE_OK;
  const int length = f->length;
  f->length = 0;
  return f->real->pMethods->xWrite(f->real, f->buffer, length, f->offset);
}

int x_close(sqlite3_file* file) {
  File* f = of(file);
  int rc = flush(f);
  sqlite3_free(f->buffer);
  f->buffer = nullptr;
  int closed = f->real->pMethods->xClose(f->real);
  return rc != SQLITE_OK ? rc : closed;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (int rc = flush(of(file)); rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xRead(real(file), out, amount, offset);
}

// The write-ahead log's header: its first 32 bytes.
constexpr sqlite3_int64 kLogHeaderBytes = 32;

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = of(file);
  if (!f->gather) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  if (offset < kLogHeaderBytes) f->header_written = true;
  const bool continues = f->length > 0 && offset == f->offset + f->length;
  if (!continues || f->length + amount > kCapacity) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (amount > kCapacity) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  if (f->buffer == nullptr) {
    f->buffer = static_cast<char*>(sqlite3_malloc(kCapacity));
    if (f->buffer == nullptr) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  if (f->length == 0) f->offset = offset;
  std::memcpy(f->buffer + f->length, data, static_cast<size_t>(amount));
  f->length += amount;
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (int rc = flush(of(file)); rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xTruncate(real(file), size);
}

int x_sync(sqlite3_file* file, int flags) {
  File* f = of(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  // A new header (the log starting over after a checkpoint) must be on disk
  // before the frames that follow it overwrite old ones, or recovery could
  // replay old frames over newer pages: SQLite syncs it even with
  // synchronous = NORMAL, and so does a deferred sync.
  if (t_defer_sync && f->gather && !f->header_written) return SQLITE_OK;
  int rc = f->real->pMethods->xSync(f->real, flags);
  if (rc == SQLITE_OK) f->header_written = false;
  return rc;
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (int rc = flush(of(file)); rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xFileSize(real(file), size);
}

int x_lock(sqlite3_file* file, int level) { return real(file)->pMethods->xLock(real(file), level); }
int x_unlock(sqlite3_file* file, int level) { return real(file)->pMethods->xUnlock(real(file), level); }
int x_check_reserved_lock(sqlite3_file* file, int* out) {
  return real(file)->pMethods->xCheckReservedLock(real(file), out);
}

int x_file_control(sqlite3_file* file, int op, void* arg) {
  if (int rc = flush(of(file)); rc != SQLITE_OK) return rc;
  int rc = real(file)->pMethods->xFileControl(real(file), op, arg);
  // The name SQLite shows for the VFS stack ("banshi-wal/unix").
  if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK && arg != nullptr) {
    char** name = static_cast<char**>(arg);
    char* stacked = sqlite3_mprintf("%s/%z", g_vfs.zName, *name);
    if (stacked != nullptr) *name = stacked;
  }
  return rc;
}

int x_sector_size(sqlite3_file* file) { return real(file)->pMethods->xSectorSize(real(file)); }
int x_device_characteristics(sqlite3_file* file) {
  return real(file)->pMethods->xDeviceCharacteristics(real(file));
}
int x_shm_map(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
  return real(file)->pMethods->xShmMap(real(file), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real(file)->pMethods->xShmLock(real(file), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real(file)->pMethods->xShmBarrier(real(file)); }
int x_shm_unmap(sqlite3_file* file, int remove) { return real(file)->pMethods->xShmUnmap(real(file), remove); }
int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  if (int rc = flush(of(file)); rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xFetch(real(file), offset, amount, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return real(file)->pMethods->xUnfetch(real(file), offset, page);
}

// One table per version the wrapped files may have: a method a version lacks
// must not be offered.
const sqlite3_io_methods* methods_for(int version) {
  static const sqlite3_io_methods v1 = {1,       x_close,     x_read,        x_write,         x_truncate,
                                        x_sync,  x_file_size, x_lock,        x_unlock,        x_check_reserved_lock,
                                        x_file_control, x_sector_size, x_device_characteristics,
                                        nullptr, nullptr,     nullptr,       nullptr,         nullptr,
                                        nullptr};
  static const sqlite3_io_methods v2 = {2,          x_close,     x_read,        x_write,   x_truncate,
                                        x_sync,     x_file_size, x_lock,        x_unlock,  x_check_reserved_lock,
                                        x_file_control, x_sector_size, x_device_characteristics,
                                        x_shm_map,  x_shm_lock,  x_shm_barrier, x_shm_unmap, nullptr,
                                        nullptr};
  static const sqlite3_io_methods v3 = {3,          x_close,     x_read,        x_write,   x_truncate,
                                        x_sync,     x_file_size, x_lock,        x_unlock,  x_check_reserved_lock,
                                        x_file_control, x_sector_size, x_device_characteristics,
                                        x_shm_map,  x_shm_lock,  x_shm_barrier, x_shm_unmap, x_fetch,
                                        x_unfetch};
  if (version >= 3) return &v3;
  return version == 2 ? &v2 : &v1;
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = of(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  std::memset(f->real, 0, static_cast<size_t>(g_real->szOsFile));
  f->gather = (flags & SQLITE_OPEN_WAL) != 0;
  f->buffer = nullptr;
  f->length = 0;
  f->offset = 0;
  f->header_written = false;
  int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  // A file SQLite is to close has methods; one that failed to open has none.
  f->base.pMethods = f->real->pMethods != nullptr ? methods_for(f->real->pMethods->iVersion) : nullptr;
  return rc;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_real->xDelete(g_real, name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int x_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return g_real->xFullPathname(g_real, name, size, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void x_dl_error(sqlite3_vfs*, int size, char* out) { g_real->xDlError(g_real, size, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_real->xDlSym(g_real, handle, symbol);
}
void x_dl_close(sqlite3_vfs*, void* handle) { g_real->xDlClose(g_real, handle); }
int x_randomness(sqlite3_vfs*, int size, char* out) { return g_real->xRandomness(g_real, size, out); }
int x_sleep(sqlite3_vfs*, int microseconds) { return g_real->xSleep(g_real, microseconds); }
int x_current_time(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int x_get_last_error(sqlite3_vfs*, int size, char* out) {
  return g_real->xGetLastError != nullptr ? g_real->xGetLastError(g_real, size, out) : 0;
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  if (g_real->iVersion >= 2 && g_real->xCurrentTimeInt64 != nullptr) return g_real->xCurrentTimeInt64(g_real, out);
  double days = 0;
  int rc = g_real->xCurrentTime(g_real, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

}  // namespace

DeferredLogSync::DeferredLogSync() { t_defer_sync = true; }
DeferredLogSync::~DeferredLogSync() { t_defer_sync = false; }

const char* wal_buffer_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    std::memset(&g_vfs, 0, sizeof g_vfs);
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = "banshi-wal";
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    g_vfs.xAccess = x_access;
    g_vfs.xFullPathname = x_full_pathname;
    g_vfs.xDlOpen = x_dl_open;
    g_vfs.xDlError = x_dl_error;
    g_vfs.xDlSym = x_dl_sym;
    g_vfs.xDlClose = x_dl_close;
    g_vfs.xRandomness = x_randomness;
    g_vfs.xSleep = x_sleep;
    g_vfs.xCurrentTime = x_current_time;
    g_vfs.xGetLastError = x_get_last_error;
    g_vfs.xCurrentTimeInt64 = x_current_time_int64;
    sqlite3_vfs_register(&g_vfs, 0);
  });
  return g_vfs.zName;
}

}  // namespace banshi::store::sqlite
