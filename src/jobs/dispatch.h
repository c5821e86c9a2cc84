// How replica leaders reach the coordinator. Rank 0's worker calls the
// Coordinator in-process (LocalClient); other leaders send small JSON
// messages over a MessageChannel to the dispatch thread on rank 0
// (DispatchServer), which calls the same Coordinator. Only requests,
// assignments and item records travel this way, never latents or frames.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "jobs/coordinator.h"
#include "parallel/message_channel.h"

namespace sv::jobs {

class CoordinatorClient {
 public:
  virtual ~CoordinatorClient() = default;
  // The next batch, or nothing: this replica is finished.
  virtual std::optional<Batch> next_batch() = 0;
  // A "done"/"failed"/"suspended" record.
  virtual void report(const nlohmann::json& record) = 0;
  // The run is stopping (preemption): finish the current step and save.
  virtual bool stop_requested() = 0;
};

class LocalClient : public CoordinatorClient {
 public:
  LocalClient(Coordinator& coordinator, int replica) : coordinator_(coordinator), replica_(replica) {}
  std::optional<Batch> next_batch() override;
  void report(const nlohmann::json& record) override;
  bool stop_requested() override;

 private:
  Coordinator& coordinator_;
  int replica_;
};

class RemoteClient : public CoordinatorClient {
 public:
  RemoteClient(MessageChannel& channel, int replica) : channel_(channel), replica_(replica) {}
  ~RemoteClient() override;  // drains a stop notice that crossed the last request
  std::optional<Batch> next_batch() override;
  void report(const nlohmann::json& record) override;
  bool stop_requested() override;

 private:
  MessageChannel& channel_;
  int replica_;
  bool stop_seen_ = false;
};

// The dispatch thread on rank 0: serves the leaders of replicas 1..n-1 until
// each has been told there is no more work, watches for stop signals and
// tells busy leaders to stop.
class DispatchServer {
 public:
  // `remote_leaders`: world ranks of the other replicas' leaders.
  DispatchServer(Coordinator& coordinator, MessageChannel& channel, std::set<int> remote_leaders);
  ~DispatchServer();  // asks the thread to quit and joins it
  // Waits until every remote leader is finished; rethrows the thread's error.
  void join();

 private:
  void serve();
  void handle(const Message& m);

  Coordinator& coordinator_;
  MessageChannel& channel_;
  std::set<int> remaining_, busy_;
  bool stop_sent_ = false;
  std::atomic<bool> quit_{false}, finished_{false};
  std::thread thread_;
};

}  // namespace sv::jobs
