// Fuzz entry point: arbitrary bytes as what a client sends the API server. They go through
// the same parser, authentication, router and static-file lookup as bytes from a socket
// (ApiServer::respond_to_bytes). Every answer must be well-formed HTTP; nothing may crash,
// and the handler behind the token must never run without it.
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "veil/node/api_server.h"

namespace {

bool g_secret_handler_ran = false;

// A small dashboard-like tree (removed at exit), so static-file lookups are fuzzed wherever
// the binary runs; a file beside it must never be served.
std::string make_static_dir() {
  static const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("veil-api-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "www" / "js");
  std::ofstream(root / "www" / "index.html") << "<!doctype html><title>fuzz</title>";
  std::ofstream(root / "www" / "js" / "app.js") << "export {};";
  std::ofstream(root / "outside.txt") << "OUTSIDE-THE-STATIC-ROOT";
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  });
  return (root / "www").string();
}

veil::node::ApiServer& server() {
  static boost::asio::io_context io;
  static veil::node::ApiServer* instance = [] {
    veil::node::ApiServerConfig config;
    config.token = "fuzz-token";
    config.max_body_bytes = 4096;
    config.static_dir = make_static_dir();
    auto* s = new veil::node::ApiServer(io, config);
    s->route("GET", "/v1/jobs/{id}/logs", [](const veil::node::ApiRequest& r) {
      return veil::node::ApiResponse::json({{"id", r.params.at("id")}, {"query", r.query}});
    });
    s->route("POST", "/v1/jobs", [](const veil::node::ApiRequest& r) {
      return veil::node::ApiResponse::json({{"size", r.body.size()}}, 201);
    });
    s->route("GET", "/v1/secret", [](const veil::node::ApiRequest&) {
      g_secret_handler_ran = true;
      return veil::node::ApiResponse::json({{"secret", true}});
    });
    s->route("GET", "/metrics", [](const veil::node::ApiRequest&) {
      return veil::node::ApiResponse{200, "text/plain; version=0.0.4", "veil_up 1\n"};
    });
    return s;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  g_secret_handler_ran = false;
  std::string out = server().respond_to_bytes(raw);
  if (!out.empty() && !out.starts_with("HTTP/1.")) __builtin_trap();
  if (out.find("OUTSIDE-THE-STATIC-ROOT") != std::string::npos) __builtin_trap();
  // The fuzzer may find the token by mutation only if it appears in the input.
  if (g_secret_handler_ran && raw.find("fuzz-token") == std::string_view::npos) __builtin_trap();
  return 0;
}
