// `veil node run`: the daemon that turns the parts into a cluster member (docs/node.md).
//
// One node is at once:
//  - a member: libp2p host (gated by the chain's node registry), SWIM membership, GossipSub;
//  - a telemetry source: measures free capacity, encrypts it under the cluster's public key and
//    publishes a signed record at an interval;
//  - a scheduler: evaluates the placement circuit for the jobs whose rendezvous set holds it;
//  - a committee member (when its operator holds a key share): gives decryption shares only
//    for decisions that a majority of the round's schedulers agree on;
//  - a coordinator: for the jobs submitted to it, runs rounds, combines shares, assigns
//    replicas, anchors deployments and reschedules after failures;
//  - an executor: runs the replicas assigned to it through the container driver;
//  - an API server: the local HTTP/JSON API, /metrics and the dashboard.
//
// Everything but FHE evaluation, chain transactions and container calls runs on one io thread;
// those run on worker threads and post their results back, so the network never waits on them.
//
// Thread safety: start() and run() from one thread; stop() from any thread or a signal handler
// context (it only posts).
#pragma once

#include <memory>

#include "veil/common/config.h"
#include "veil/common/status.h"

namespace veil::node {

class Daemon {
 public:
  // Loads the identity, keys and settings of `config` (docs/operations.md lists them), opens
  // the state database, connects to the chain and checks that this node is registered, opens
  // the container driver, and starts listening. Fails with a message naming the setting or
  // file at fault.
  static Result<std::unique_ptr<Daemon>> start(const Config& config);
  ~Daemon();

  // Runs until stop() or SIGINT/SIGTERM, then shuts down gracefully: drains this node's
  // replicas (their coordinators reschedule them), leaves SWIM, closes connections.
  Status run();
  void stop();

  struct Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace veil::node
