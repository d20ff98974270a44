// store/sqlite/wal_buffer.h — a SQLite VFS that writes the write-ahead log
// in one system call per commit.
//
// SQLite appends each page of a commit to the write-ahead log with two
// writes (the frame's header, then the page). For a commit of 32 pages that
// is 64 system calls, which cost more than the fsync that follows them. This
// VFS wraps the default one; for a write-ahead log file only, it gathers
// writes that continue one another in memory and hands them on as one write
// before anything can depend on them: before a sync, a read, a size query, a
// truncation, a file control, a close, and whenever a write does not continue
// the gathered ones or the buffer is full (128 KiB, the most the unix VFS
// writes at once). Every other file, and every other operation, goes straight
// to the wrapped VFS.
//
// Safe only where each commit asks for a sync of the log before publishing
// its frames to readers, which is synchronous = FULL in WAL mode: readers
// find a commit's frames through the shared wal-index, and SQLite updates it
// after that sync, by which time the gathered frames are in the file. With
// synchronous = NORMAL a commit asks for no sync, so the store opens such
// connections with the default VFS instead.
//
// An error of the gathered write is returned by the operation that flushed
// it (a sync fails, so the commit fails and is rolled back); the gathered
// bytes are dropped, as the frames of a failed commit are.
//
// A commit may also leave the sync to later (DeferredLogSync): its gathered
// writes are handed on at the sync as always, so the frames are in the file
// before SQLite publishes them, but the call returns without waiting for the
// disk, unless the log's header was written since the last sync (the log
// starting over): that sync is kept, as synchronous = NORMAL keeps it, so
// new frames never reach the disk before the header that makes old ones
// void. Such a commit is as safe as one with synchronous = NORMAL (never
// corrupt, possibly lost if the machine stops) until the log is synced,
// which SqliteStore::sync_written() does before anyone is told of it.
//
// Thread safety: registration is once and thread-safe; each file is used by
// one connection at a time, as SQLite uses files.
#pragma once

namespace banshi::store::sqlite {

// The name to pass to sqlite3_open_v2 for a connection whose write-ahead log
// writes are gathered. Registers the VFS on first use, wrapping the default
// VFS of that moment; it is never made the default.
const char* wal_buffer_vfs();

// While one is alive, a sync of a write-ahead log that this thread asks for
// hands the gathered writes on and returns without syncing (unless the
// log's header was written since its last sync). Only a COMMIT
// may run under it: a checkpoint must sync the log before it copies frames
// into the database, so the store runs checkpoints itself, outside it.
class DeferredLogSync {
 public:
  DeferredLogSync();
  ~DeferredLogSync();
  DeferredLogSync(const DeferredLogSync&) = delete;
  DeferredLogSync& operator=(const DeferredLogSync&) = delete;
};

}  // namespace banshi::store::sqlite
