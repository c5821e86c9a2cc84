// Agreement within a group on an error that only some ranks may have seen
// (a prompt one rank's tokenizer rejects, a chunk one rank failed to decode):
// every rank learns whether any failed and the first failing rank's message,
// so all of them skip the item together and no rank is left in a collective.
#pragma once

#include <optional>
#include <string>

#include "parallel/communicator.h"

namespace sv {

// Collective over `group`. Returns the message of the lowest failing rank
// (callers put the rank in the message), or nothing.
std::optional<std::string> agree_on_error(Communicator& group, const std::optional<std::string>& local_error);

// Broadcasts a string from `root` (collective).
std::string broadcast_string(Communicator& group, std::string text, int root);

}  // namespace sv
