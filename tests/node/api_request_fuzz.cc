// Fuzz entry point: arbitrary bytes as what a client sends the API server. They go through
// the same parser, front door (path decoding, Host, Origin, token, Content-Type), router and
// static-file lookup as bytes from a socket (ApiServer::respond_to_bytes). Every answer must
// be well-formed HTTP; nothing may crash; no file outside the static root may be served; and
// a handler behind the token may run only for input that holds the token, addresses this
// server's port and, for anything but GET, says it is JSON.
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "veil/node/api_server.h"

namespace {

// The last non-public handler that ran, and its method; empty when none did.
std::string g_private_handler_ran;

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
  using veil::node::ApiRequest;
  using veil::node::ApiResponse;
  static boost::asio::io_context io;
  static veil::node::ApiServer* instance = [] {
    veil::node::ApiServerConfig config;
    config.token = "fuzz-token";
    config.port = 7600;  // never bound: the Host header must name it
    config.max_body_bytes = 4096;
    config.static_dir = make_static_dir();
    auto* s = new veil::node::ApiServer(io, config);
    // The daemon's shapes: placeholders beside literals, several methods on one path, a
    // public route inside /v1 and one outside it.
    auto private_route = [s](const char* method, const char* pattern) {
      s->route(method, pattern, [method](const ApiRequest& r) {
        g_private_handler_ran = method;
        return ApiResponse::json({{"params", r.params}, {"query", r.query}, {"size", r.body.size()}});
      });
    };
    private_route("GET", "/v1/jobs");
    private_route("POST", "/v1/jobs");
    private_route("GET", "/v1/jobs/{id}");
    private_route("DELETE", "/v1/jobs/{id}");
    private_route("GET", "/v1/jobs/{id}/logs");
    private_route("GET", "/v1/telemetry");
    private_route("GET", "/metrics");
    s->route_public("GET", "/v1/version", [](const ApiRequest&) {
      return ApiResponse::json({{"version", "fuzz"}});
    });
    return s;
  }();
  return *instance;
}

bool contains_ignoring_case(std::string_view text, std::string_view lower_needle) {
  return std::search(text.begin(), text.end(), lower_needle.begin(), lower_needle.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         }) != text.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  g_private_handler_ran.clear();
  std::string out = server().respond_to_bytes(raw);
  if (!out.empty() && !out.starts_with("HTTP/1.")) __builtin_trap();
  if (out.find("OUTSIDE-THE-STATIC-ROOT") != std::string::npos) __builtin_trap();
  if (!g_private_handler_ran.empty()) {
    // The fuzzer may find these by mutation only if they appear in the input.
    if (raw.find("fuzz-token") == std::string_view::npos) __builtin_trap();
    if (raw.find("7600") == std::string_view::npos) __builtin_trap();
    if (g_private_handler_ran != "GET" && !contains_ignoring_case(raw, "application/json")) __builtin_trap();
  }
  return 0;
}
