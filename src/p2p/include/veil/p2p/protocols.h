// Small protocols on top of the Host: Ping (/ipfs/ping/1.0.0, libp2p/specs ping/ping.md)
// and Veil's echo protocol (/veil/echo/1.0.0).
//
// Thread safety: as Host (use from the host's io_context thread).
#pragma once

#include <chrono>
#include <string_view>

#include "veil/p2p/host.h"

namespace veil::p2p {

inline constexpr std::string_view kPingProtocol = "/ipfs/ping/1.0.0";
inline constexpr std::size_t kPingSize = 32;
// Writes back every byte it reads until the remote closes, then closes its side.
inline constexpr std::string_view kEchoProtocol = "/veil/echo/1.0.0";

// Serves Ping: answers every 32-byte payload with the same bytes, until the stream ends.
void enable_ping(Host& host);
// Sends one 32-byte random payload on a new ping stream and returns the round-trip time.
// Fails when the peer cannot be reached, does not speak ping, or answers with other bytes
// (data_loss).
Task<Result<std::chrono::nanoseconds>> ping(Host& host, const PeerId& peer);

void enable_echo(Host& host);

// Sends `data` through the peer's echo protocol while reading the echo concurrently, and
// returns what came back (the caller compares). Used by the CLI, the interop tests and the
// benchmark.
Task<Result<Bytes>> echo(Host& host, const PeerId& peer, ByteView data);

}  // namespace veil::p2p
