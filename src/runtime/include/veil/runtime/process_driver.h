// Driver for machines without a container engine (after Nomad's raw_exec): a "container"
// is an executable started as a child in its own process group, watched by a small
// supervisor process that records its exit, with stdout/stderr written to files.
//
// Everything a container is lives in <state_dir>/<id>/ (spec.json, state files, logs), so a
// new driver instance (a restarted node) sees the containers an earlier one started.
// Limits: memory and CPU through a cgroup (v2 or v1) when the hierarchy is writable,
// otherwise memory through RLIMIT_AS; describe() says which. There are no images: `image`
// is the path of an executable (or a bare name looked up in PATH), and pull() checks its
// sha256 against the expected digest. Ports are not translated: the process learns the
// host port to bind from VEIL_PORT_<container_port>.
//
// Thread safety: as Driver: all methods may be called concurrently.
#pragma once

#include <memory>
#include <string>

#include "veil/common/status.h"
#include "veil/runtime/driver.h"

namespace veil::runtime {

struct ProcessDriverOptions {
  // Empty: $VEIL_PROCESS_STATE_DIR, else /var/lib/veil/process as root or
  // $HOME/.local/state/veil/process otherwise. Created when missing.
  std::string state_dir;
  // Parent cgroup name under which each container gets one; empty disables cgroups.
  std::string cgroup_parent = "veil";
};

// Opens (creating if needed) the state directory. kPermissionDenied or kInternal when it
// cannot be created or written.
Result<std::unique_ptr<Driver>> open_process_driver(const ProcessDriverOptions& options);

}  // namespace veil::runtime
