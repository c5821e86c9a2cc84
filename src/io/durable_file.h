// Durability helpers for outputs on shared storage: a file that exists under
// its final name is complete, and a rename survives a crash of the node.
#pragma once

#include <filesystem>
#include <string_view>

namespace sv::io {

// `dir/.tmp.<pid>.<name>`: the temporary name every writer uses, so a resumed
// job can recognise and remove half-written files.
std::filesystem::path temporary_path_for(const std::filesystem::path& path);
inline constexpr std::string_view kTemporaryPrefix = ".tmp.";

// fsync of a file's data (InputError naming the file when it fails) and of a
// directory's entries (best effort: some filesystems refuse it).
void fsync_file(const std::filesystem::path& path);
void fsync_directory(const std::filesystem::path& dir);

// Appends `bytes` to an open file descriptor (retrying short writes and
// EINTR) and fsyncs it: a record of an append-only log is on disk when this
// returns. InputError naming `path` (disk full, ...) otherwise.
void append_and_sync(int fd, std::string_view bytes, const std::filesystem::path& path);

// Writes `text` to `path` atomically: temporary name, fsync, rename, fsync of
// the directory. On failure (disk full, quota, permissions) the temporary is
// removed and InputError says why.
void write_text_atomic(const std::filesystem::path& path, std::string_view text);

}  // namespace sv::io
