// Small text messages between world ranks, beside the data-path
// communicators: the job coordinator's requests and replies. The MPI
// implementation runs on a private duplicate of MPI_COMM_WORLD so it never
// matches a model collective, and waits by polling with short sleeps so a
// waiting rank does not spin a core. Requires MPI_THREAD_MULTIPLE (the
// coordinator is a thread on rank 0).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "parallel/mpi_communicator.h"

namespace sv {

struct Message {
  int source = 0;
  int tag = 0;
  std::string text;
};

class MessageChannel {
 public:
  static constexpr int kAnySource = -1;
  virtual ~MessageChannel() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void send(int dest, int tag, const std::string& text) = 0;
  // A message from `source` (or any) with `tag`, if one has arrived.
  virtual std::optional<Message> poll(int source, int tag) = 0;
  // Waits for one.
  Message receive(int source, int tag);
};

// Collective over the world: every rank must call it, once.
std::unique_ptr<MessageChannel> make_mpi_message_channel(const MpiRuntime& runtime);

}  // namespace sv
