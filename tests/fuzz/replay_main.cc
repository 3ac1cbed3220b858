// Runs a libFuzzer entry point without libFuzzer: over every file of the seed corpus given
// on the command line, then over deterministic random and mutated inputs. A crash, a
// sanitizer report or an exception escaping the entry point fails the ctest run.
//
// Usage: <name>_replay [CORPUS_DIR_OR_FILE...]   (env VEIL_FUZZ_ITERATIONS, default 20000)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Input = std::vector<std::uint8_t>;

Input read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Input(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void run(const Input& input) { LLVMFuzzerTestOneInput(input.data(), input.size()); }

// One libFuzzer-style mutation: flip, insert, erase, duplicate a range, or set a byte to an
// "interesting" value (lengths and counts are where parsers break).
Input mutate(Input input, std::mt19937_64& rng) {
  static constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    const std::size_t pos = input.empty() ? 0 : rng() % input.size();
    switch (rng() % 5) {
      case 0:
        if (!input.empty()) input[pos] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1: input.insert(input.begin() + static_cast<long>(pos), static_cast<std::uint8_t>(rng())); break;
      case 2:
        if (!input.empty()) input.erase(input.begin() + static_cast<long>(pos));
        break;
      case 3:
        if (!input.empty()) {
          const std::size_t len = 1 + rng() % std::min<std::size_t>(16, input.size() - pos);
          Input chunk(input.begin() + static_cast<long>(pos), input.begin() + static_cast<long>(pos + len));
          input.insert(input.begin() + static_cast<long>(rng() % (input.size() + 1)), chunk.begin(), chunk.end());
        }
        break;
      default:
        if (!input.empty()) input[pos] = kInteresting[rng() % std::size(kInteresting)];
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Input> corpus;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) corpus.push_back(read_file(entry.path()));
      }
    } else if (std::filesystem::exists(path)) {
      corpus.push_back(read_file(path));
    }
  }
  for (const auto& input : corpus) run(input);

  long iterations = 20000;
  if (const char* env = std::getenv("VEIL_FUZZ_ITERATIONS")) iterations = std::atol(env);
  std::mt19937_64 rng(0x5eed);
  for (long i = 0; i < iterations; ++i) {
    Input input;
    if (!corpus.empty() && rng() % 4 != 0) {
      input = mutate(corpus[rng() % corpus.size()], rng);
    } else {
      input.resize(rng() % 256);
      for (auto& b : input) b = static_cast<std::uint8_t>(rng());
    }
    run(input);
  }
  std::cout << "replayed " << corpus.size() << " corpus inputs and " << iterations
            << " random/mutated inputs without a crash\n";
  return 0;
}
