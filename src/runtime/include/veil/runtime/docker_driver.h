// Driver over the Docker Engine API (also served by Podman) on a unix socket, spoken with
// Boost.Beast: HTTP/1.1, chunked streams, one connection per call. The API version is
// negotiated once at open() from /_ping (the lower of the engine's and ours).
//
// Thread safety: as Driver: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "veil/common/status.h"
#include "veil/runtime/driver.h"

namespace veil::runtime {

struct DockerDriverOptions {
  // Path of the engine's unix socket. Empty: $VEIL_DOCKER_SOCKET, else /var/run/docker.sock.
  std::string socket_path;
  // Highest API version we speak; the engine may lower it. Never raised above this.
  std::string max_api_version = "1.41";
  // Time limit for one non-streaming call (connect + request + response).
  std::chrono::milliseconds call_timeout{60000};
};

// Connects and negotiates the API version. Errors, each saying what to do:
//   kNotFound          the socket path does not exist (is the engine running?)
//   kPermissionDenied  the socket exists but we may not connect (docker group?)
//   kUnavailable       nobody answers on it, or it does not speak the Engine API
//   kFailedPrecondition the engine's API is older than 1.24
Result<std::unique_ptr<Driver>> open_docker_driver(const DockerDriverOptions& options);

// The X-Registry-Auth header value for `auth`: base64url of its JSON form.
std::string registry_auth_header(const RegistryAuth& auth);

}  // namespace veil::runtime
