#include "veil/sched/job_spec.h"

#include <gtest/gtest.h>

namespace veil::sched {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

std::string valid_spec() {
  return "name: web\n"
         "image: 127.0.0.1:5000/web:1.0@" + kDigest + "\n"
         "replicas: 2\n"
         "resources:\n"
         "  cpu: 500m\n"
         "  memory: 128Mi\n"
         "  disk: 1Gi\n"
         "policy:\n"
         "  name: binpack\n"
         "  weights: {cpu: 2, memory: 1}\n"
         "priority: 70\n"
         "command: [httpd, -f, -p, '8080']\n"
         "env: {GREETING: hello}\n"
         "ports:\n"
         "  - {container: 8080, host: 18080}\n"
         "labels: {team: blue}\n";
}

TEST(JobSpec, ParsesAFullSpec) {
  auto spec = parse_job_spec(valid_spec(), "web.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->name, "web");
  EXPECT_EQ(spec->image.repository, "127.0.0.1:5000/web");
  EXPECT_EQ(spec->image.tag, "1.0");
  EXPECT_EQ(spec->image.digest, kDigest);
  EXPECT_EQ(spec->replicas, 2u);
  EXPECT_EQ(spec->resources.cpu_millicores, 500u);
  EXPECT_EQ(spec->resources.memory_mib, 128u);
  EXPECT_EQ(spec->resources.disk_mib, 1024u);
  EXPECT_EQ(spec->policy.kind, PolicyKind::kBinpack);
  EXPECT_EQ(spec->policy.weights.cpu, 2u);
  EXPECT_EQ(spec->policy.weights.disk, 0u);
  EXPECT_EQ(spec->priority, 70);
  EXPECT_EQ(spec->command.size(), 4u);
  EXPECT_EQ(spec->env.at("GREETING"), "hello");
  ASSERT_EQ(spec->ports.size(), 1u);
  EXPECT_EQ(spec->ports[0].host_port, 18080);
  EXPECT_EQ(spec->ports[0].protocol, "tcp");
  EXPECT_EQ(spec->labels.at("team"), "blue");
}

TEST(JobSpec, CpuAndSizeQuantities) {
  auto parse_cpu = [](const std::string& cpu) {
    return parse_job_spec("name: a\nimage: x@" + kDigest + "\nresources: {cpu: " + cpu + ", memory: 1}\n");
  };
  EXPECT_EQ(parse_cpu("2")->resources.cpu_millicores, 2000u);
  EXPECT_EQ(parse_cpu("0.25")->resources.cpu_millicores, 250u);
  EXPECT_EQ(parse_cpu("1500m")->resources.cpu_millicores, 1500u);
  EXPECT_FALSE(parse_cpu("0.0001").ok());
  EXPECT_FALSE(parse_cpu("lots").ok());
  auto mem = parse_job_spec("name: a\nimage: x@" + kDigest + "\nresources: {cpu: 1, memory: 2Gi}\n");
  EXPECT_EQ(mem->resources.memory_mib, 2048u);
}

Result<JobSpec> with_resources(const std::string& resources) {
  return parse_job_spec("name: a\nimage: x@" + kDigest + "\nresources: " + resources + "\n", "job.yaml");
}

// Defect #21.3: `memory: nan` was accepted as 0 MiB (strtod-style parsing, NaN cast to an
// integer) and the job was placed and run; exponents slipped through as well.
TEST(JobSpec, QuantitiesRefuseNanInfinityExponentsAndOverflow) {
  for (const char* memory : {"nan", "nanMi", "NaN", ".nan", "inf", "-inf", "1e400", "1e3", "1e3Mi", "0x1p3", "-0",
                             "'+1'", "' 1'", "'1 '", "-1", "99999999999999999Gi", "18446744073709551617"}) {
    auto spec = with_resources(std::string("{cpu: 1, memory: ") + memory + "}");
    EXPECT_FALSE(spec.ok()) << "memory: " << memory << " was accepted as " << spec->resources.memory_mib << " MiB";
    if (!spec.ok()) {
      EXPECT_NE(spec.status().message().find("job.yaml:3:"), std::string::npos) << spec.status().message();
      EXPECT_NE(spec.status().message().find("resources.memory:"), std::string::npos) << spec.status().message();
    }
  }
  for (const char* cpu : {"nan", "inf", "1e3m", "0x10", "'+1'", "-0"}) {
    EXPECT_FALSE(with_resources(std::string("{cpu: ") + cpu + ", memory: 1}").ok()) << "cpu: " << cpu;
  }
  for (const char* disk : {"nan", "1e3Mi", "99999999999999999Gi"}) {
    EXPECT_FALSE(with_resources(std::string("{cpu: 1, memory: 1, disk: ") + disk + "}").ok()) << "disk: " << disk;
  }
  for (const char* gpus : {"nan", "1.5", "-0", "65", "1e1"}) {
    EXPECT_FALSE(with_resources(std::string("{cpu: 1, memory: 1, gpus: ") + gpus + "}").ok()) << "gpus: " << gpus;
  }
}

TEST(JobSpec, DecimalAndBinarySizeUnits) {
  EXPECT_EQ(with_resources("{cpu: 1, memory: 1G}")->resources.memory_mib, 954u);  // 10^9 bytes, rounded up
  EXPECT_EQ(with_resources("{cpu: 1, memory: 1Ki}")->resources.memory_mib, 1u);
  EXPECT_EQ(with_resources("{cpu: 1, memory: 1, disk: 2Ti}")->resources.disk_mib, 2u << 20);
  EXPECT_EQ(with_resources("{cpu: 1, memory: 1, gpus: 2}")->resources.gpus, 2u);
}

// Defects #21.5 (a Latin-1 comment crashed `veil job run`) and #21.7a: a spec must be UTF-8,
// and the error says where it stops being so, on one line.
TEST(JobSpec, RefusesInvalidUtf8NamingLineAndColumn) {
  auto spec = parse_job_spec(valid_spec() + "# caf\xe9 au lait\n", "job.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(),
            "job.yaml:17:6: a job spec must be UTF-8 text; byte \\xe9 is not (save the file as UTF-8)");
  auto value = parse_job_spec(valid_spec() + "labels: {team: \"\xff\xfe\"}\n", "job.yaml");
  EXPECT_FALSE(value.ok());
}

// Defect #21.7a: errors echoed the user's bytes raw, so an ESC sequence in a spec reached the
// terminal. Both the quoted value and the echoed source line must come out escaped.
TEST(JobSpec, ErrorsShowControlCharactersEscaped) {
  const std::string decoded = "name: \"web\\e[2J\"\nimage: x@" + kDigest + "\nresources: {cpu: 1, memory: 1}\n";
  auto spec = parse_job_spec(decoded, "job.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message().find('\x1b'), std::string::npos) << spec.status().message();
  EXPECT_NE(spec.status().message().find("'web\\x1b[2J'"), std::string::npos) << spec.status().message();

  const std::string raw = "name: web\nimage: x@" + kDigest + "\nresources: {cpu: 1, memory: \"\x1b]0;pwned\x07\"}\n";
  auto raw_spec = parse_job_spec(raw, "job.yaml");
  ASSERT_FALSE(raw_spec.ok());
  const std::string message = raw_spec.status().message();
  EXPECT_EQ(message.find_first_of(std::string_view("\x1b\x07", 2)), std::string::npos) << message;
}

// A spec over the 1 MiB limit is refused by size before YAML sees it; one just under parses.
TEST(JobSpec, SizeLimit) {
  const std::string head = valid_spec() + "# ";
  const std::size_t limit = std::size_t{1} << 20;
  std::string at_limit = head + std::string(limit - head.size() - 1, 'x') + "\n";
  ASSERT_EQ(at_limit.size(), limit);
  EXPECT_TRUE(parse_job_spec(at_limit).ok());
  auto over = parse_job_spec(at_limit + "\n", "big.yaml");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(over.status().message().find("big.yaml: a job spec may be at most 1 MiB"), std::string::npos)
      << over.status().message();
}

// The largest legitimate spec is mostly data: a long command line and many environment
// variables, just under the limit, must parse (yaml-cpp is not quadratic in them).
TEST(JobSpec, ALargeSpecJustUnderTheLimitParses) {
  std::string text = "name: big\nimage: x@" + kDigest + "\nresources: {cpu: 1, memory: 1}\nenv:\n";
  int i = 0;
  for (; text.size() < (std::size_t{1} << 20) - 64 * 1024; ++i) {
    text += "  VAR_" + std::to_string(i) + ": value-" + std::to_string(i) + "\n";
  }
  text += "command:\n";
  while (text.size() < (std::size_t{1} << 20) - 64) text += "  - argument\n";
  auto spec = parse_job_spec(text);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->env.size(), static_cast<std::size_t>(i));
}

// A 512 KiB value anchored once and aliased thousands of times: without a bound on what the
// aliases expand to, this 1 MiB spec would become gigabytes of environment.
TEST(JobSpec, AliasesCannotExpandBeyondTheSizeLimit) {
  std::string text = "name: a\nimage: x@" + kDigest + "\nresources: {cpu: 1, memory: 1}\nlabels: {big: &big " +
                     std::string(512 * 1024, 'x') + "}\nenv:\n";
  for (int i = 0; text.size() < (std::size_t{1} << 20) - 64; ++i) text += "  V" + std::to_string(i) + ": *big\n";
  auto spec = parse_job_spec(text, "bomb.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("values add up to more than 1 MiB"), std::string::npos)
      << spec.status().message().substr(0, 300);

  std::string ports = "name: a\nimage: x@" + kDigest + "\nresources: {cpu: 1, memory: 1}\nports:\n  - &p {container: 80}\n";
  while (ports.size() < (std::size_t{1} << 20) - 16) ports += "  - *p\n";
  EXPECT_FALSE(parse_job_spec(ports).ok());
  // A few aliases of small values stay fine.
  EXPECT_TRUE(parse_job_spec("name: a\nimage: x@" + kDigest + "\nresources: {cpu: &c 1, memory: *c}\n").ok());
}

TEST(JobSpec, DeepNestingIsAnErrorNotACrash) {
  const std::string text = "name: [" + std::string(200000, '[') + "\n";
  EXPECT_FALSE(parse_job_spec(text).ok());
}

TEST(JobSpec, CanonicalFormRoundTrips) {
  auto spec = parse_job_spec(valid_spec());
  ASSERT_TRUE(spec.ok());
  const std::string canonical = to_canonical_yaml(*spec);
  auto again = parse_job_spec(canonical);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << canonical;
  EXPECT_EQ(to_canonical_yaml(*again), canonical);
}

struct BadCase {
  std::string yaml;
  std::string expected;  // substring of the error
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << "expects '" << c.expected << "'"; }

class JobSpecErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(JobSpecErrors, NameTheFieldAndLine) {
  auto spec = parse_job_spec(GetParam().yaml, "job.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find(GetParam().expected), std::string::npos) << spec.status().message();
}

const std::string kHead = "name: web\nimage: x@" + kDigest + "\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, JobSpecErrors,
    ::testing::Values(
        BadCase{"image: x@" + kDigest + "\nresources: {cpu: 1, memory: 1}\n", "name: is required"},
        BadCase{"name: Web\nimage: x@" + kDigest + "\nresources: {cpu: 1, memory: 1}\n", "job.yaml:1:7: name:"},
        BadCase{"name: web\nimage: nginx:latest\nresources: {cpu: 1, memory: 1}\n", "job.yaml:2:8: image: 'nginx:latest' has no digest"},
        BadCase{"name: web\nimage: x@sha256:abc\nresources: {cpu: 1, memory: 1}\n", "64 lower-case hex"},
        BadCase{kHead + "replicas: 0\nresources: {cpu: 1, memory: 1}\n", "job.yaml:3:11: replicas: 0 is out of range"},
        BadCase{kHead + "replicas: two\nresources: {cpu: 1, memory: 1}\n", "replicas: 'two' is not an integer"},
        BadCase{kHead, "resources: is required"},
        BadCase{kHead + "resources:\n  cpu: 1\n", "resources.memory: is required"},
        BadCase{kHead + "resources:\n  cpu: 1\n  memory: 1\n  ram: 4\n", "job.yaml:6:3: resources: unknown key 'ram'"},
        BadCase{kHead + "resources: {cpu: 1, memory: lots}\n", "resources.memory: 'lots' is not a size"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\npolicy: fastest\n", "job.yaml:4:9: policy: unknown policy 'fastest'"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\npolicy:\n  name: spread\n  weights: {cpu: 16}\n", "policy.weights.cpu: 16 is out of range"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\npolicy:\n  weights: {cpu: 0, memory: 0}\n", "at least one resource weight"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nenv: {1BAD: x}\n", "'1BAD' is not a valid environment variable name"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nports:\n  - {container: 70000}\n", "ports[0].container: 70000 is out of range"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nports:\n  - {container: 80, host: 8080}\n  - {container: 81, host: 8080}\n", "host port 8080 is used twice"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nports:\n  - {container: 80, protocol: sctp}\n", "must be tcp or udp"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nreplica: 3\n", "job.yaml:4:1: replica: unknown field"},
        BadCase{kHead + "resources: {cpu: 1, memory: [1\n", "end of sequence flow not found"},
        BadCase{"- a\n- b\n", "must be a mapping"},
        // Job types, health checks, restart and reschedule policies.
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\ntype: cron\n", "job.yaml:4:7: type: 'cron' is not a job type"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nports: [{container: 80}]\nhealth:\n  http: {path: /, port: 8080}\n",
                "job.yaml:6:25: health.http.port: port 8080 is not exposed; add {container: 8080} to ports"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nports: [{container: 53, protocol: udp}]\nhealth: {tcp: {port: 53}}\n",
                "health.tcp.port: port 53 is not exposed"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nhealth: {exec: [true], interval: 10}\n",
                "job.yaml:4:34: health.interval: '10' is not a duration: a number needs a unit"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nhealth: {exec: [true], timeout: 5x}\n", "health.timeout: '5x' is not a duration: unknown unit 'x'"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nhealth: {exec: [true], intervl: 5s}\n",
                "job.yaml:4:24: health: unknown key 'intervl'"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nhealth: {exec: []}\n", "health.exec: expected a non-empty list"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nports: [{container: 80}]\nhealth: {exec: [true], tcp: {port: 80}}\n",
                "health: needs exactly one of http, tcp or exec"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nports: [{container: 80}]\nhealth: {http: {path: nope, port: 80}}\n",
                "health.http.path: must start with '/'"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nhealth: {exec: [true], failures: 0}\n", "health.failures: 0 is out of range"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nrestart: {attempts: 2, mode: retry}\n",
                "job.yaml:4:30: restart.mode: 'retry' is not a restart mode (use fail or delay)"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nrestart: {delay: -1s}\n", "restart.delay: '-1s' is not a duration"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nrestart: {interval: 500ms}\n", "restart.interval: must be at least 1s"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nrestart: {tries: 2}\n", "restart: unknown key 'tries'"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nreschedule: {attempts: 101}\n", "reschedule.attempts: 101 is out of range"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nreschedule: {interval: 400d}\n", "reschedule.interval: '400d' is not a duration"},
        // Rolling updates.
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nupdate: {max_parallel: 0}\n",
                "job.yaml:4:24: update.max_parallel: 0 is out of range"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nupdate: {min_healthy_time: 1m, healthy_deadline: 30s}\n",
                "update.healthy_deadline: must be longer than min_healthy_time (1m)"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nupdate: {auto_revert: maybe}\n", "update.auto_revert: must be true or false"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\nupdate: {canary: 1}\n", "update: unknown key 'canary'"},
        BadCase{kHead + "resources: {cpu: 1, memory: 1}\ntype: batch\nupdate: {max_parallel: 1}\n",
                "update: applies to services only"}));

TEST(JobSpec, TypesDefaultToServiceWithTheirPolicies) {
  auto service = parse_job_spec(kHead + "resources: {cpu: 1, memory: 1}\n");
  ASSERT_TRUE(service.ok()) << service.status().message();
  EXPECT_EQ(service->type, JobType::kService);
  EXPECT_EQ(service->restart, default_restart(JobType::kService));
  EXPECT_EQ(service->reschedule, default_reschedule(JobType::kService));
  EXPECT_FALSE(service->health.has_value());
  auto batch = parse_job_spec(kHead + "resources: {cpu: 1, memory: 1}\ntype: batch\nrestart: {attempts: 0}\n");
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(batch->type, JobType::kBatch);
  // Fields the spec leaves out come from the batch defaults, whatever the order of the keys.
  EXPECT_EQ(batch->restart.attempts, 0u);
  EXPECT_EQ(batch->restart.interval, default_restart(JobType::kBatch).interval);
  EXPECT_EQ(batch->reschedule, default_reschedule(JobType::kBatch));
  auto reordered = parse_job_spec(kHead + "restart: {attempts: 0}\ntype: batch\nresources: {cpu: 1, memory: 1}\n");
  ASSERT_TRUE(reordered.ok());
  EXPECT_EQ(reordered->restart, batch->restart);
}

TEST(JobSpec, HealthChecksOfEachKind) {
  auto http = parse_job_spec(kHead + "resources: {cpu: 1, memory: 1}\nports: [{container: 8080}]\n"
                                     "health: {http: {path: /healthz, port: 8080}, interval: 5s, timeout: 500ms, grace: 1m, failures: 2}\n");
  ASSERT_TRUE(http.ok()) << http.status().message();
  ASSERT_TRUE(http->health.has_value());
  EXPECT_EQ(http->health->kind, HealthCheckSpec::Kind::kHttp);
  EXPECT_EQ(http->health->path, "/healthz");
  EXPECT_EQ(http->health->port, 8080);
  EXPECT_EQ(http->health->interval, std::chrono::seconds(5));
  EXPECT_EQ(http->health->timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(http->health->grace, std::chrono::minutes(1));
  EXPECT_EQ(http->health->failures, 2u);
  auto tcp = parse_job_spec(kHead + "resources: {cpu: 1, memory: 1}\nports: [{container: 5432}]\nhealth: {tcp: {port: 5432}}\n");
  ASSERT_TRUE(tcp.ok()) << tcp.status().message();
  EXPECT_EQ(tcp->health->kind, HealthCheckSpec::Kind::kTcp);
  EXPECT_EQ(tcp->health->interval, std::chrono::seconds(10));  // the defaults
  EXPECT_EQ(tcp->health->failures, 3u);
  auto exec = parse_job_spec(kHead + "resources: {cpu: 1, memory: 1}\nhealth: {exec: [pg_isready, -q]}\n");
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  EXPECT_EQ(exec->health->kind, HealthCheckSpec::Kind::kExec);
  EXPECT_EQ(exec->health->command, (std::vector<std::string>{"pg_isready", "-q"}));
}

TEST(JobSpec, NewFieldsRoundTripAndLeaveOldCanonicalTextAlone) {
  auto plain = parse_job_spec(valid_spec());
  ASSERT_TRUE(plain.ok());
  // A spec without the new fields has the canonical text (and so the job id) it always had.
  EXPECT_EQ(to_canonical_yaml(*plain).find("type"), std::string::npos);
  EXPECT_EQ(to_canonical_yaml(*plain).find("restart"), std::string::npos);
  auto full = parse_job_spec(valid_spec() + "type: batch\nhealth: {http: {path: /ok, port: 8080}, grace: 90s}\n"
                                            "restart: {attempts: 1, interval: 10m, delay: 0s, mode: delay}\n"
                                            "reschedule: {attempts: 0}\n");
  ASSERT_TRUE(full.ok()) << full.status().message();
  const std::string canonical = to_canonical_yaml(*full);
  auto again = parse_job_spec(canonical);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << canonical;
  EXPECT_EQ(to_canonical_yaml(*again), canonical);
  EXPECT_EQ(again->type, JobType::kBatch);
  EXPECT_EQ(again->health->grace, std::chrono::seconds(90));
  EXPECT_EQ(again->restart.mode, RestartPolicy::Mode::kDelay);
  EXPECT_EQ(again->restart.delay, std::chrono::milliseconds(0));
  EXPECT_EQ(again->reschedule.attempts, 0u);
}

TEST(JobSpec, AnUpdateBlockRoundTripsWithNomadsDefaults) {
  auto plain = parse_job_spec(valid_spec());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->update.has_value());
  EXPECT_EQ(to_canonical_yaml(*plain).find("update"), std::string::npos) << "no update block: the job id stays";
  auto defaults = parse_job_spec(valid_spec() + "update: {}\n");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  ASSERT_TRUE(defaults->update.has_value());
  EXPECT_EQ(*defaults->update, UpdatePolicy{});
  EXPECT_EQ(defaults->update->max_parallel, 1u);
  EXPECT_EQ(defaults->update->min_healthy_time, std::chrono::seconds(10));
  EXPECT_EQ(defaults->update->healthy_deadline, std::chrono::minutes(5));
  EXPECT_FALSE(defaults->update->auto_revert);
  auto full = parse_job_spec(valid_spec() + "update: {max_parallel: 2, min_healthy_time: 5s, healthy_deadline: 2m, auto_revert: true}\n");
  ASSERT_TRUE(full.ok()) << full.status().message();
  const std::string canonical = to_canonical_yaml(*full);
  auto again = parse_job_spec(canonical);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << canonical;
  EXPECT_EQ(again->update, full->update);
  EXPECT_EQ(again->update->max_parallel, 2u);
  EXPECT_TRUE(again->update->auto_revert);
  EXPECT_NE(to_canonical_yaml(*again), to_canonical_yaml(*plain)) << "the block is part of the job id";
}

TEST(Duration, ParsesAndFormatsAsNomadWritesThem) {
  using namespace std::chrono_literals;
  EXPECT_EQ(*parse_duration("10s"), 10s);
  EXPECT_EQ(*parse_duration("2m"), 2min);
  EXPECT_EQ(*parse_duration("1h30m"), 90min);
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("1m30s500ms"), 90500ms);
  EXPECT_EQ(*parse_duration("0s"), 0ms);
  EXPECT_EQ(*parse_duration("8760h"), kMaxDuration);
  for (const char* bad : {"", "10", "s", "1.5s", "-1s", "1d", "10 s", "1S", "8761h", "99999999999999999999h"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
  for (std::chrono::milliseconds d : {0ms, 250ms, 10000ms, 90000ms, 120000ms, 5400000ms, 86400000ms, 3723004ms}) {
    auto back = parse_duration(format_duration(d));
    ASSERT_TRUE(back.ok()) << format_duration(d);
    EXPECT_EQ(*back, d);
  }
  EXPECT_EQ(format_duration(90s), "1m30s");
}

TEST(ImageRef, TagOnlyAfterLastSlash) {
  auto ref = parse_image_ref("127.0.0.1:5000/app@" + kDigest);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->repository, "127.0.0.1:5000/app");
  EXPECT_EQ(ref->tag, "");
  EXPECT_EQ(ref->to_string(), "127.0.0.1:5000/app@" + kDigest);
}

}  // namespace
}  // namespace veil::sched

namespace veil::sched {
namespace {

// The error of parsing valid_spec() followed by `extra`, or "" when it parsed.
std::string error_with(const std::string& extra) {
  auto spec = parse_job_spec(valid_spec() + extra, "job.yaml");
  return spec.ok() ? "" : spec.status().message();
}

TEST(JobSpec, ConstraintsSpreadAndVolumesParseAndRoundTrip) {
  auto spec = parse_job_spec(valid_spec() +
                             "constraints:\n"
                             "  - {attribute: region, value: eu}\n"
                             "  - {attribute: zone, operator: in, value: [a, b]}\n"
                             "  - {attribute: arch, operator: '!=', value: arm64}\n"
                             "  - {attribute: host, operator: regexp, value: 'web-[0-9]+'}\n"
                             "  - {attribute: tier, operator: in, value: 'gold,silver'}\n"
                             "spread_over: zone\n"
                             "placement: {candidates: 8}\n"
                             "volumes:\n"
                             "  - {source: data, path: /srv/data, read_only: true}\n"
                             "  - {source: scratch_1, path: /tmp/scratch}\n");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_EQ(spec->constraints.size(), 5u);
  EXPECT_EQ(spec->constraints[0].op, Constraint::Operator::kEqual);
  EXPECT_EQ(spec->constraints[1].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec->constraints[2].op, Constraint::Operator::kNotEqual);
  EXPECT_EQ(spec->constraints[3].op, Constraint::Operator::kRegexp);
  EXPECT_EQ(spec->constraints[4].values, (std::vector<std::string>{"gold", "silver"}));
  EXPECT_EQ(spec->spread_over, "zone");
  ASSERT_EQ(spec->volumes.size(), 2u);
  EXPECT_TRUE(spec->volumes[0].read_only);
  EXPECT_FALSE(spec->volumes[1].read_only);
  const std::string canonical = to_canonical_yaml(*spec);
  auto again = parse_job_spec(canonical);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << canonical;
  EXPECT_EQ(again->constraints, spec->constraints);
  EXPECT_EQ(again->volumes, spec->volumes);
  EXPECT_EQ(again->spread_over, "zone");
  ASSERT_TRUE(again->candidates.has_value());
  EXPECT_EQ(again->candidates->number, 8u);
  EXPECT_EQ(to_canonical_yaml(*again), canonical);
  // Without them, the canonical text (and the job id) is what it was before they existed.
  auto plain = parse_job_spec(valid_spec());
  ASSERT_TRUE(plain.ok());
  for (const char* field : {"constraints", "spread_over", "volumes", "placement"}) {
    EXPECT_EQ(to_canonical_yaml(*plain).find(field), std::string::npos) << field;
  }
}

TEST(JobSpec, BadConstraintsAndVolumesNameTheFieldAndLine) {
  struct Case {
    std::string extra;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"constraints:\n  - {attribute: region, operator: '>', value: eu}\n", "constraints[0].operator: '>' is not an operator"},
      {"constraints:\n  - {value: eu}\n", "constraints[0].attribute: is required"},
      {"constraints:\n  - {attribute: region, value: [eu, us]}\n", "constraints[0].value: a list of values needs operator 'in'"},
      {"constraints:\n  - {attribute: host, operator: regexp, value: '(a'}\n", "not a POSIX extended regular expression"},
      {"constraints:\n  - {attribute: host, operator: regexp, value: '(a)\\1'}\n", "back-references"},
      {"constraints:\n  - {attribute: region, value: eu, weight: 5}\n", "unknown key 'weight'"},
      {"volumes:\n  - {source: data}\n", "volumes[0].path: is required"},
      {"volumes:\n  - {source: Data, path: /d}\n", "volumes[0].source: 'Data' must be"},
      {"volumes:\n  - {source: data, path: relative}\n", "volumes[0].path: must be an absolute path"},
      {"volumes:\n  - {source: data, path: /a/../etc}\n", "volumes[0].path: must be an absolute path"},
      {"volumes:\n  - {source: data, path: /d}\n  - {source: logs, path: /d}\n", "volumes[1].path: /d is mounted twice"},
      {"volumes:\n  - {source: data, path: /d, read_only: maybe}\n", "volumes[0].read_only: must be true or false"},
      {"spread_over: ''\n", "spread_over: must be a label name"},
      {"placement: {candidates: some}\n", "placement.candidates:"},
      {"placement: {sample: 3}\n", "unknown key 'sample'"},
  };
  for (const auto& c : cases) {
    const std::string message = error_with(c.extra);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.extra << " -> " << message;
    EXPECT_NE(message.find("job.yaml:1"), std::string::npos) << message;  // line 17 or 18: the new block
  }
}

}  // namespace
}  // namespace veil::sched

namespace veil::sched {
namespace {

TEST(JobSpec, SecretsNameWhereTheirValuesComeFromAndNeverHoldThem) {
  auto spec = parse_job_spec(valid_spec() + "secrets:\n  DB_PASSWORD: {from_env: PGPASS}\n  TLS_KEY: {from_file: ./key.pem}\n");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_EQ(spec->secrets.size(), 2u);
  EXPECT_EQ(spec->secrets.at("DB_PASSWORD").kind, SecretSource::Kind::kEnv);
  EXPECT_EQ(spec->secrets.at("DB_PASSWORD").from, "PGPASS");
  EXPECT_EQ(spec->secrets.at("TLS_KEY").kind, SecretSource::Kind::kFile);
  auto again = parse_job_spec(to_canonical_yaml(*spec));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->secrets, spec->secrets);
  EXPECT_EQ(to_canonical_yaml(*parse_job_spec(valid_spec())).find("secrets"), std::string::npos);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"secrets:\n  1BAD: {from_env: X}\n", "'1BAD' is not a valid environment variable name"},
      {"secrets:\n  GREETING: {from_env: X}\n", "secrets.GREETING: is also set in env"},
      {"secrets:\n  S: {from_env: X, from_file: y}\n", "secrets.S: expected {from_file: PATH} or {from_env: VAR}"},
      {"secrets:\n  S: {value: hunter2}\n", "unknown key 'value'"},
      {"secrets:\n  S: {from_env: 'A B'}\n", "is not an environment variable name"},
  };
  for (const auto& [extra, expected] : bad) {
    const std::string message = error_with(extra);
    EXPECT_NE(message.find(expected), std::string::npos) << extra << " -> " << message;
  }
}

}  // namespace
}  // namespace veil::sched
