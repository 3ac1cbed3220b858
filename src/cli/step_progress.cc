#include "step_progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "veil/common/printable.h"

namespace veil::cli {

namespace {

constexpr std::size_t kBarWidth = 20;
constexpr auto kTick = std::chrono::milliseconds(200);

}  // namespace

bool stderr_is_terminal() {
  if (::isatty(STDERR_FILENO) == 0) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

std::string format_duration(std::chrono::milliseconds elapsed) {
  const long long ms = std::max<long long>(0, elapsed.count());
  char text[48];
  // Rounded to the unit shown before it is split, so 59.97 s is "1 min 0 s", never "60.0 s",
  // and 119.6 s is "2 min 0 s", never "1 min 60 s".
  const long long tenths = (ms + 50) / 100, seconds = (ms + 500) / 1000;
  if (ms < 1000) std::snprintf(text, sizeof text, "%lld ms", ms);
  else if (tenths < 600) std::snprintf(text, sizeof text, "%lld.%lld s", tenths / 10, tenths % 10);
  else std::snprintf(text, sizeof text, "%lld min %lld s", seconds / 60, seconds % 60);
  return text;
}

std::string format_bytes(std::uint64_t bytes) {
  char text[48];
  if (bytes < 1000) {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1'000'000'000) {
    const bool kilo = bytes < 1'000'000;
    std::snprintf(text, sizeof text, "%.1f %s", static_cast<double>(bytes) / (kilo ? 1e3 : 1e6), kilo ? "kB" : "MB");
  } else {
    std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / 1e9);
  }
  return text;
}

StepProgress::StepProgress(std::string title, std::size_t total, std::ostream& out, bool terminal)
    : title_(std::move(title)), total_(total), out_(out), terminal_(terminal) {
  if (terminal_) ticker_ = std::thread([this] { tick(); });
}

StepProgress::StepProgress(std::string title, std::size_t total)
    : StepProgress(std::move(title), total, std::cerr, stderr_is_terminal()) {}

StepProgress::~StepProgress() {
  {
    std::lock_guard lock(mutex_);
    finish_locked();
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void StepProgress::begin(const std::string& step) {
  std::lock_guard lock(mutex_);
  finish_locked();
  step_ = printable(step);
  detail_.clear();
  in_step_ = true;
  ++begun_;
  step_started_ = Clock::now();
  if (terminal_) {
    redraw_locked();
  } else {
    write_plain_prefix_locked();
    out_ << " " << step_ << std::endl;
  }
}

void StepProgress::note(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (terminal_) {
    clear_line_locked();
    out_ << "  " << printable(line) << "\n";
    if (in_step_) redraw_locked();
  } else {
    out_ << "[" << title_ << "]   " << printable(line) << std::endl;
  }
}

void StepProgress::detail(const std::string& text) {
  std::lock_guard lock(mutex_);
  if (!in_step_) return;
  detail_ = printable(text);
  if (terminal_) redraw_locked();
}

void StepProgress::finish() {
  std::lock_guard lock(mutex_);
  finish_locked();
}

void StepProgress::finish(const std::string& summary) {
  std::lock_guard lock(mutex_);
  const std::string clean = printable(summary);
  finish_locked(&clean);
}

std::size_t StepProgress::steps_begun() const {
  std::lock_guard lock(mutex_);
  return begun_;
}

void StepProgress::finish_locked(const std::string* summary) {
  if (!in_step_) return;
  in_step_ = false;
  const auto took = format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - step_started_));
  const std::string detail = detail_.empty() ? "" : ", " + detail_;
  if (terminal_) {
    clear_line_locked();
    out_ << "\u2713 " << (summary ? *summary : step_ + " (" + took + detail + ")") << std::endl;
  } else {
    write_plain_prefix_locked();
    out_ << (summary ? " " + *summary : " done in " + took + detail) << std::endl;
  }
}

void StepProgress::write_plain_prefix_locked() {
  out_ << "[" << title_ << "] " << begun_;
  if (total_ > 0) out_ << "/" << total_;
}

void StepProgress::clear_line_locked() { out_ << "\r\033[K"; }

void StepProgress::redraw_locked() {
  std::ostringstream line;
  if (total_ > 0) {
    const std::size_t done = std::min(begun_ > 0 ? begun_ - 1 : 0, total_);
    const std::size_t filled = done * kBarWidth / total_;
    line << "[";
    for (std::size_t i = 0; i < kBarWidth; ++i) line << (i < filled ? "\u2588" : "\u2591");
    line << "] " << begun_ << "/" << total_ << " ";
  }
  line << step_ << "  "
       << format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - step_started_));
  if (!detail_.empty()) line << "  " << detail_;
  clear_line_locked();
  out_ << line.str() << std::flush;
}

void StepProgress::tick() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kTick);
    if (!stopping_ && in_step_) redraw_locked();
  }
}

}  // namespace veil::cli
