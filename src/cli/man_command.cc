// `veil man --out DIR`: one man page per command, made from the command tree itself (as
// `veil completion` is), so the pages the Debian package ships never disagree with `--help`.
// Pages are named as git names its own: veil(1), veil-job(1), veil-job-run(1).
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/version.h"

namespace veil::cli {
namespace {

namespace fs = std::filesystem;

// Text for a roff body line: backslashes doubled as \e, and a leading '.' or '\'' (which roff
// would read as a request) guarded with the zero-width \&.
std::string roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";  // a real minus/hyphen, so flags can be searched and copied
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string page_name(const std::vector<std::string>& path) {
  std::string name = "veil";
  for (const auto& word : path) name += "-" + word;
  return name;
}

std::string command_line(const std::vector<std::string>& path) {
  std::string line = "veil";
  for (const auto& word : path) line += " " + word;
  return line;
}

std::string option_names(const CLI::Option& opt) {
  std::string names;
  for (const auto& s : opt.get_snames()) names += (names.empty() ? "" : ", ") + std::string("\\fB\\-") + s + "\\fR";
  for (const auto& l : opt.get_lnames()) names += (names.empty() ? "" : ", ") + std::string("\\fB\\-\\-") + roff(l) + "\\fR";
  if (opt.get_items_expected_max() > 0) names += " \\fI" + roff(opt.get_type_name().empty() ? "VALUE" : opt.get_type_name()) + "\\fR";
  return names;
}

std::vector<const CLI::App*> visible_subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty() && !sub->get_disabled(); });
}

std::string page(const CLI::App& app, const std::vector<std::string>& path) {
  std::ostringstream out;
  const std::string name = page_name(path);
  out << ".TH " << upper(name) << " 1 \"\" \"veil " << veil::version() << "\" \"Veil Stack Manual\"\n"
      << ".SH NAME\n" << roff(name) << " \\- " << roff(app.get_description()) << "\n"
      << ".SH SYNOPSIS\n.B " << roff(command_line(path)) << "\n";
  const auto subcommands = visible_subcommands(app);
  std::vector<const CLI::Option*> flags, positionals;
  for (const CLI::Option* opt : app.get_options()) (opt->get_positional() ? positionals : flags).push_back(opt);
  if (!flags.empty()) out << "[\\fIOPTIONS\\fR]\n";
  for (const CLI::Option* p : positionals) {
    const bool many = p->get_items_expected_max() > 1;
    out << (p->get_required() ? "\\fI" : "[\\fI") << roff(upper(p->get_name())) << (many ? "\\fR..." : "\\fR")
        << (p->get_required() ? "" : "]") << "\n";
  }
  if (!subcommands.empty()) out << "\\fICOMMAND\\fR\n";
  out << ".SH DESCRIPTION\n" << roff(app.get_description()) << ".\n";
  if (!app.get_footer().empty()) out << ".PP\n" << roff(app.get_footer()) << "\n";
  if (!positionals.empty()) {
    out << ".SH ARGUMENTS\n";
    for (const CLI::Option* p : positionals) {
      out << ".TP\n\\fI" << roff(upper(p->get_name())) << "\\fR\n" << roff(p->get_description()) << "\n";
    }
  }
  if (!flags.empty()) {
    out << ".SH OPTIONS\n";
    for (const CLI::Option* opt : flags) {
      out << ".TP\n" << option_names(*opt) << "\n" << roff(opt->get_description());
      if (!opt->get_default_str().empty()) out << " (default: " << roff(opt->get_default_str()) << ")";
      out << "\n";
    }
  }
  if (!path.empty()) {
    out << ".PP\nOptions of \\fB" << roff(command_line({path.begin(), path.end() - 1}))
        << "\\fR may also be given after the verb, as kubectl and nomad accept them.\n";
  }
  if (!subcommands.empty()) {
    out << ".SH COMMANDS\n";
    for (const CLI::App* sub : subcommands) {
      auto sub_path = path;
      sub_path.push_back(sub->get_name());
      out << ".TP\n\\fB" << roff(page_name(sub_path)) << "\\fR(1)\n" << roff(sub->get_description()) << "\n";
    }
  }
  if (path.empty()) {
    out << ".SH EXIT STATUS\n"
        << ".TP\n0\nThe command did what was asked.\n"
        << ".TP\n1\nThe command ran and failed: a bad file, an unreachable peer, a refused request. "
           "One line on standard error says why.\n"
        << ".TP\n2\nThe command line itself is wrong (unknown flag, missing argument).\n"
        << ".SH ENVIRONMENT\n"
        << ".TP\n\\fBVEIL_CONFIG\\fR\nThe YAML configuration file, as \\fB\\-\\-config\\fR.\n"
        << ".TP\n\\fBVEIL_LOG\\fR\nLog levels, e.g. \\fBwarn,p2p=debug\\fR. Logs go to standard error.\n"
        << ".TP\n\\fBVEIL_\\fR\\fISECTION\\fR\\fB_\\fR\\fIKEY\\fR\nAny setting of the configuration file "
           "(\\fBveil config show\\fR lists them).\n"
        << ".SH FILES\n.TP\n/etc/veil/node.yaml\nThe node's configuration when installed from the Debian package.\n"
        << ".TP\n/var/lib/veil\nThe node's state (SQLite), identity key and logs.\n";
  }
  out << ".SH SEE ALSO\n";
  if (path.empty()) {
    out << "The operations guide: /usr/share/doc/veil/operations.md\n";
  } else {
    out << "\\fB" << roff(page_name({path.begin(), path.end() - 1})) << "\\fR(1)\n";
  }
  return out.str();
}

Status write_pages(const CLI::App& app, const std::vector<std::string>& path, const fs::path& dir, int& written) {
  const fs::path file = dir / (page_name(path) + ".1");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << page(app, path);
  if (!out) return internal_error(file.string() + ": cannot write");
  ++written;
  for (const CLI::App* sub : visible_subcommands(app)) {
    auto sub_path = path;
    sub_path.push_back(sub->get_name());
    VEIL_RETURN_IF_ERROR(write_pages(*sub, sub_path, dir, written));
  }
  return Status::ok_status();
}

}  // namespace

void register_man_command(CLI::App& app, GlobalOptions& /*global*/, CommandAction& action) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("man", "Write a man page for every command (veil.1, veil-job.1, ...) into a directory");
  cmd->add_option("--out", *dir, "directory to write the pages into (created if absent)")->required();
  cmd->callback([&app, dir, &action] {
    action = [&app, dir] {
      std::error_code ec;
      fs::create_directories(*dir, ec);
      if (ec) return fail(*dir + ": " + ec.message());
      int written = 0;
      if (auto st = write_pages(app, {}, *dir, written); !st.ok()) return fail(st);
      std::cout << written << " man pages in " << *dir << "\n";
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace veil::cli
