#include "jobs/dispatch.h"

#include <chrono>

#include "core/error.h"
#include "core/log.h"
#include "core/stop_signal.h"

namespace sv::jobs {

using nlohmann::json;

namespace {

constexpr int kCoordinatorRank = 0;
constexpr int kTagRequest = 101;  // leader -> coordinator: next / item / suspended (one tag keeps order)
constexpr int kTagReply = 102;    // coordinator -> leader: a batch or "no more work"
constexpr int kTagStop = 103;     // coordinator -> busy leader: stop after this step

void rethrow_fatal(const Coordinator& c) {
  if (auto e = c.fatal()) std::rethrow_exception(e);
}

}  // namespace

std::optional<Batch> LocalClient::next_batch() {
  rethrow_fatal(coordinator_);
  if (sv::stop_requested()) coordinator_.request_stop("signal " + std::to_string(stop_signal_number()));
  return coordinator_.next_batch(replica_);
}

void LocalClient::report(const json& record) {
  rethrow_fatal(coordinator_);
  if (record.value("event", "") == "suspended") {
    coordinator_.batch_suspended(record);
  } else {
    coordinator_.item_finished(record);
  }
}

bool LocalClient::stop_requested() {
  rethrow_fatal(coordinator_);
  if (sv::stop_requested()) coordinator_.request_stop("signal " + std::to_string(stop_signal_number()));
  return coordinator_.stopping();
}

RemoteClient::~RemoteClient() {
  while (channel_.poll(kCoordinatorRank, kTagStop)) {
  }
}

std::optional<Batch> RemoteClient::next_batch() {
  channel_.send(kCoordinatorRank, kTagRequest, json{{"op", "next"}, {"replica", replica_}}.dump());
  const json reply = json::parse(channel_.receive(kCoordinatorRank, kTagReply).text);
  if (!reply.contains("batch")) return std::nullopt;
  return reply["batch"].get<Batch>();
}

void RemoteClient::report(const json& record) {
  channel_.send(kCoordinatorRank, kTagRequest, json{{"op", "record"}, {"record", record}}.dump());
}

bool RemoteClient::stop_requested() {
  if (!stop_seen_ && channel_.poll(kCoordinatorRank, kTagStop)) stop_seen_ = true;
  return stop_seen_ || sv::stop_requested();
}

DispatchServer::DispatchServer(Coordinator& coordinator, MessageChannel& channel, std::set<int> remote_leaders)
    : coordinator_(coordinator), channel_(channel), remaining_(std::move(remote_leaders)) {
  thread_ = std::thread([this] { serve(); });
}

DispatchServer::~DispatchServer() {
  quit_ = true;
  if (thread_.joinable()) thread_.join();
}

void DispatchServer::join() {
  while (!finished_) {
    rethrow_fatal(coordinator_);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (thread_.joinable()) thread_.join();
  rethrow_fatal(coordinator_);
}

void DispatchServer::handle(const Message& m) {
  const json request = json::parse(m.text);
  const std::string op = request.value("op", "");
  if (op == "next") {
    busy_.erase(m.source);
    std::optional<Batch> batch = coordinator_.next_batch(request.value("replica", -1));
    if (batch) {
      busy_.insert(m.source);
      channel_.send(m.source, kTagReply, json{{"batch", *batch}}.dump());
    } else {
      remaining_.erase(m.source);
      channel_.send(m.source, kTagReply, json{{"done", true}}.dump());
    }
  } else if (op == "record") {
    const json& record = request["record"];
    if (record.value("event", "") == "suspended") {
      coordinator_.batch_suspended(record);
    } else {
      coordinator_.item_finished(record);
    }
  } else {
    throw InternalError("dispatch: unknown request '" + op + "' from rank " + std::to_string(m.source));
  }
}

void DispatchServer::serve() {
  try {
    while (!remaining_.empty() && !quit_) {
      if (sv::stop_requested()) coordinator_.request_stop("signal " + std::to_string(stop_signal_number()));
      if (coordinator_.stopping() && !stop_sent_) {
        for (int leader : busy_) channel_.send(leader, kTagStop, "stop");
        stop_sent_ = true;
      }
      if (auto m = channel_.poll(MessageChannel::kAnySource, kTagRequest)) {
        handle(*m);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  } catch (...) {
    // The journal cannot be written (or the channel broke): nothing more can
    // be recorded safely. Rank 0's worker rethrows this and ends the job.
    coordinator_.set_fatal(std::current_exception());
  }
  finished_ = true;
}

}  // namespace sv::jobs
