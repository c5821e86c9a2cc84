// The stepvideo executable: dispatches to a subcommand and turns errors into
// one line on stderr and a documented exit code.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <boost/program_options/errors.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/version.h"

namespace {

struct Subcommand {
  std::string_view name;
  int (*run)(const sv::cli::Args&);
  std::string_view summary;
};

constexpr Subcommand kSubcommands[] = {
    {"inspect", sv::cli::cmd_inspect, "list the tensors of a weight file or model directory"},
    {"verify", sv::cli::cmd_verify, "run reference fixture cases and compare with tolerances"},
    {"bench", sv::cli::cmd_bench, "benchmark a component (bench dit ...)"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: stepvideo <command> [options]   (stepvideo <command> --help)\n\n");
  for (const auto& c : kSubcommands) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  sv::keep_freed_memory_mapped();
  if (argc < 2) {
    print_usage(stderr);
    return sv::cli::kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return sv::cli::kExitOk;
  }
  if (name == "--version") {
    std::printf("stepvideo %s (%s)\n", sv::version(), sv::git_describe());
    return sv::cli::kExitOk;
  }
  const sv::cli::Args args(argv + 2, argv + argc);
  for (const auto& c : kSubcommands) {
    if (c.name != name) continue;
    try {
      return c.run(args);
    } catch (const sv::Error& e) {
      std::fprintf(stderr, "stepvideo %s: %s: %s\n", argv[1], sv::error_kind_name(e.kind()),
                   e.what());
      return sv::cli::exit_code_for(e.kind());
    } catch (const boost::program_options::error& e) {
      std::fprintf(stderr, "stepvideo %s: usage error: %s (see stepvideo %s --help)\n", argv[1],
                   e.what(), argv[1]);
      return sv::cli::kExitUsage;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "stepvideo %s: out of memory\n", argv[1]);
      return sv::cli::kExitInternal;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "stepvideo %s: internal error: %s\n", argv[1], e.what());
      return sv::cli::kExitInternal;
    }
  }
  std::string names;
  for (const auto& c : kSubcommands) names += (names.empty() ? "" : ", ") + std::string(c.name);
  std::fprintf(stderr, "stepvideo: unknown command '%s' (commands: %s; see stepvideo --help)\n",
               argv[1], names.c_str());
  return sv::cli::kExitUsage;
}
