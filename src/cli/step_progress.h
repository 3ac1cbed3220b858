// Progress of a command's long steps, on stderr (docs/operations.md, "Progress").
//
// On a terminal, one line is redrawn in place: a bar of the steps done, the current step and
// the seconds it has taken so far, ticking while the step works; each finished step is left
// above it with its time, as apt and cargo do. Anywhere else (a pipe, a CI log, TERM=dumb) it
// writes one plain line per step as it starts and one when it ends, so logs stay greppable and
// carry the same timings. With a total of 0 the number of steps is unknown and no bar is drawn.
//
// Thread safety: every method may be called from any thread; the ticker is internal.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <string>
#include <thread>

namespace veil::cli {

// True when stderr is a terminal that can redraw a line (isatty and TERM is not "dumb").
bool stderr_is_terminal();

class StepProgress {
 public:
  // `title` prefixes every plain line ("cluster init"); `total` is the number of begin() calls
  // expected (0: unknown).
  StepProgress(std::string title, std::size_t total, std::ostream& out, bool terminal);
  StepProgress(std::string title, std::size_t total);  // on std::cerr, terminal if it is one
  ~StepProgress();  // finishes the current step
  StepProgress(const StepProgress&) = delete;
  StepProgress& operator=(const StepProgress&) = delete;

  // Ends the current step (if any) and starts `step`.
  void begin(const std::string& step);
  // A line printed above the progress line, inside the current step ("registry at 0x...").
  void note(const std::string& line);
  // What the current step has done so far ("3/5 layers, 12.1 of 40.0 MB"): on a terminal shown
  // after the step's name at once; in plain lines only on the step's done line, so a log gets
  // one line per step however often it changes. begin() clears it.
  void detail(const std::string& text);
  // Ends the current step; the next begin() starts a new one. With a summary, that line is
  // printed for the step instead of its name and local duration (e.g. times measured elsewhere).
  void finish();
  void finish(const std::string& summary);

  std::size_t steps_begun() const;

 private:
  using Clock = std::chrono::steady_clock;
  void finish_locked(const std::string* summary = nullptr);
  void redraw_locked();
  void clear_line_locked();
  void write_plain_prefix_locked();  // "[title] N/TOTAL" of a plain line
  void tick();

  const std::string title_;
  const std::size_t total_;
  std::ostream& out_;
  const bool terminal_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string step_;
  std::string detail_;
  bool in_step_ = false;
  bool stopping_ = false;
  std::size_t begun_ = 0;
  Clock::time_point step_started_{};
  std::thread ticker_;  // terminal only
};

// "412 ms", "4.2 s", "3 min 5 s": the one way `veil` prints a step's duration.
std::string format_duration(std::chrono::milliseconds elapsed);

// "812 B", "4.0 kB", "12.1 MB", "1.50 GB" (decimal units, as Docker prints sizes).
std::string format_bytes(std::uint64_t bytes);

}  // namespace veil::cli
