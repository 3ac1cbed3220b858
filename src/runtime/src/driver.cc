#include "veil/runtime/driver.h"

#include <cstdlib>

#include "veil/runtime/docker_driver.h"
#include "veil/runtime/process_driver.h"

namespace veil::runtime {

Result<DriverKind> parse_driver_kind(std::string_view text) {
  if (text == "auto") return DriverKind::kAuto;
  if (text == "docker") return DriverKind::kDocker;
  if (text == "process") return DriverKind::kProcess;
  return invalid_argument("unknown driver '" + std::string(text) + "'; use auto, docker or process");
}

Result<DriverSelection> open_driver(const DriverOptions& options) {
  DockerDriverOptions docker{.socket_path = options.docker_socket};
  ProcessDriverOptions process{.state_dir = options.process_state_dir};
  switch (options.kind) {
    case DriverKind::kDocker: {
      VEIL_ASSIGN_OR_RETURN(auto driver, open_docker_driver(docker));
      std::string reason = "docker requested; " + driver->describe();
      return DriverSelection{std::move(driver), std::move(reason)};
    }
    case DriverKind::kProcess: {
      VEIL_ASSIGN_OR_RETURN(auto driver, open_process_driver(process));
      std::string reason = "process requested; " + driver->describe();
      return DriverSelection{std::move(driver), std::move(reason)};
    }
    case DriverKind::kAuto:
      break;
  }
  auto docker_driver = open_docker_driver(docker);
  if (docker_driver.ok()) {
    std::string reason = "docker engine answered; " + (*docker_driver)->describe();
    return DriverSelection{std::move(docker_driver).value(), std::move(reason)};
  }
  VEIL_ASSIGN_OR_RETURN(auto driver, open_process_driver(process));
  std::string reason = "no usable container engine (" + docker_driver.status().message() +
                       "); falling back to " + driver->describe();
  return DriverSelection{std::move(driver), std::move(reason)};
}

}  // namespace veil::runtime
