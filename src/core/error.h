// Error hierarchy and one-line checks. Library code throws; only src/cli maps
// errors to exit codes (see README, "Exit codes").
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace sv {

// The category decides the exit code, so Slurm scripts and the coordinator can
// tell bad input from a broken node.
enum class ErrorKind {
  Config,      // bad options, bad config.json, impossible layout
  Checkpoint,  // missing/truncated/mis-shaped weight files
  Input,       // bad user data: manifests, latents, videos, fixture folders
  Comm,        // MPI/NCCL failures
  Cuda,        // CUDA runtime / cuBLAS failures
  NotSupported,
  Internal,    // a broken invariant inside stepvideo
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

#define SV_DEFINE_ERROR(Name, Kind)                                 \
  class Name : public Error {                                       \
   public:                                                          \
    explicit Name(std::string message) : Error(Kind, std::move(message)) {} \
  };
SV_DEFINE_ERROR(ConfigError, ErrorKind::Config)
SV_DEFINE_ERROR(CheckpointError, ErrorKind::Checkpoint)
SV_DEFINE_ERROR(InputError, ErrorKind::Input)
SV_DEFINE_ERROR(CommError, ErrorKind::Comm)
SV_DEFINE_ERROR(CudaError, ErrorKind::Cuda)
SV_DEFINE_ERROR(NotSupported, ErrorKind::NotSupported)
SV_DEFINE_ERROR(InternalError, ErrorKind::Internal)
#undef SV_DEFINE_ERROR

}  // namespace sv

// SV_CHECK(cond, "fmt {}", args...) throws InternalError: a broken invariant.
// SV_CHECK_AS(ErrorType, cond, "fmt {}", args...) throws the given category.
#define SV_CHECK_AS(ErrorType, cond, ...)                       \
  do {                                                          \
    if (!(cond)) [[unlikely]] {                                 \
      throw ErrorType(fmt::format(__VA_ARGS__));                \
    }                                                           \
  } while (false)

#define SV_CHECK(cond, ...) SV_CHECK_AS(::sv::InternalError, cond, __VA_ARGS__)
