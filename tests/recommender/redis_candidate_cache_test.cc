// The Redis candidate cache against a real redis-server started by the test on a free
// loopback port: the round trip, then Redis killed (lookups fail fast, nothing hangs) and
// restarted (lookups recover after the reconnect interval). Skipped without redis-server.
#include "recommender/serving/redis_candidate_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <netinet/in.h>

extern char** environ;

namespace abrec {
namespace {

using std::chrono::milliseconds;
using Stopwatch = std::chrono::steady_clock;

constexpr const char* kRedisServer = "/usr/bin/redis-server";

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A port nothing listens on at the moment of the call.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a = Loopback(0);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a = Loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// redis-server in the foreground, without persistence, output discarded; killed on
// destruction.
class RedisServer {
 public:
  explicit RedisServer(int port) : port_(port) {}
  ~RedisServer() { Kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server and waits (up to 10 s) until it accepts connections.
  bool Start() {
    const std::string port = std::to_string(port_);
    std::vector<std::string> args = {kRedisServer, "--port",      port, "--bind",
                                     "127.0.0.1",  "--save",      "",   "--appendonly",
                                     "no",         "--daemonize", "no"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&files, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, kRedisServer, &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    const auto deadline = Stopwatch::now() + std::chrono::seconds(10);
    while (Stopwatch::now() < deadline) {
      if (Accepts(port_)) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

CachedCandidates Entry(std::string user, std::string version, std::vector<std::string> ids) {
  return {std::move(user), std::move(version), R"({"age":41,"region":"R3"})", std::move(ids)};
}

// Get until it succeeds, for up to `budget`.
Result<std::optional<CachedCandidates>> GetWithin(CandidateCache& cache, std::string_view user,
                                                  milliseconds budget) {
  const auto deadline = Stopwatch::now() + budget;
  auto r = cache.Get(user);
  while (!r && Stopwatch::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(25));
    r = cache.Get(user);
  }
  return r;
}

// Generous timeouts: the sanitizer build is slow, and no assertion here is about timing
// beyond "it does not hang".
RedisCacheOptions TestOptions(int port) {
  RedisCacheOptions o;
  o.port = port;
  o.timeout = milliseconds(250);
  o.reconnect_interval = milliseconds(200);
  o.readers = 3;
  return o;
}

TEST_CASE("redis candidate cache: key and option checks") {
  CHECK(RedisCandidateKey("cust-000001") == "abrec:candidates:cust-000001");
  RedisCacheOptions o;
  o.host.clear();
  CHECK(OpenRedisCandidateCache(o).error().code == ErrorCode::kInvalidArgument);
  o = RedisCacheOptions();
  o.port = 70'000;
  CHECK(OpenRedisCandidateCache(o).error().field == "recommender.redis_address");
}

TEST_CASE("redis candidate cache: opens with Redis down and answers kUnavailable") {
  auto cache = OpenRedisCandidateCache(TestOptions(FreePort()));
  REQUIRE(cache.has_value());
  CHECK((*cache)->kind() == "redis");
  for (int i = 0; i < 3; ++i) {
    auto r = (*cache)->Get("cust-000001");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kUnavailable);
  }
  CHECK((*cache)->Erase("cust-000001").error().code == ErrorCode::kUnavailable);
  CHECK((*cache)->Put({Entry("u", "v1", {"p"})}).error().code == ErrorCode::kUnavailable);
}

TEST_CASE("redis candidate cache: round trip, Redis killed, Redis restarted") {
  if (!std::filesystem::exists(kRedisServer)) {
    MESSAGE("skipped: ", kRedisServer, " is not installed (scripts/install-deps.sh)");
    return;
  }
  const int port = FreePort();
  RedisServer redis(port);
  REQUIRE(redis.Start());
  auto opened = OpenRedisCandidateCache(TestOptions(port));
  REQUIRE(opened.has_value());
  CandidateCache& cache = **opened;

  // Round trip, with more entries than one pipeline and a user id with a space and bytes
  // a printf-style command would mangle.
  std::vector<CachedCandidates> batch;
  for (int i = 0; i < 2'500; ++i) {
    batch.push_back(Entry(fmt::format("cust-{:06}", i), "v1", {"P1", fmt::format("P{}", i)}));
  }
  batch.push_back(Entry("odd user %s\r\n", "v1", {"P9"}));
  REQUIRE(cache.Put(batch).has_value());
  auto got = cache.Get("cust-002499");
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  CHECK((*got)->user_id == "cust-002499");
  CHECK((*got)->model_version == "v1");
  CHECK((*got)->attributes_json == R"({"age":41,"region":"R3"})");
  CHECK((*got)->product_ids == std::vector<std::string>{"P1", "P2499"});
  got = cache.Get("odd user %s\r\n");
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  CHECK((*got)->product_ids == std::vector<std::string>{"P9"});
  got = cache.Get("cust-unknown");
  REQUIRE(got.has_value());
  CHECK_FALSE(got->has_value());

  // Replace, then erase.
  REQUIRE(cache.Put({Entry("cust-000007", "v2", {"P3", "P4", "P5"})}).has_value());
  got = cache.Get("cust-000007");
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  CHECK((*got)->model_version == "v2");
  CHECK((*got)->product_ids == std::vector<std::string>{"P3", "P4", "P5"});
  CHECK(cache.Erase("cust-000007") == 1);
  CHECK(cache.Erase("cust-000007") == 0);
  got = cache.Get("cust-000007");
  REQUIRE(got.has_value());
  CHECK_FALSE(got->has_value());

  // Concurrent lookups share the connection pool.
  {
    std::vector<std::thread> threads;
    std::atomic<int> hits{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&cache, &hits, t] {
        for (int i = 0; i < 200; ++i) {
          auto r = cache.Get(fmt::format("cust-{:06}", 1'000 + t * 200 + i));
          if (r && r->has_value()) ++hits;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(hits.load() == 800);
  }

  // Killed: every lookup fails with kUnavailable, and none waits long.
  redis.Kill();
  for (int i = 0; i < 10; ++i) {
    const auto start = Stopwatch::now();
    auto r = cache.Get("cust-000001");
    const auto took = Stopwatch::now() - start;
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kUnavailable);
    CHECK(took < std::chrono::seconds(2));
  }

  // Restarted on the same port (empty: no persistence): lookups recover once the reconnect
  // interval has passed.
  REQUIRE(redis.Start());
  got = GetWithin(cache, "cust-000001", milliseconds(5'000));
  REQUIRE(got.has_value());
  CHECK_FALSE(got->has_value());
  REQUIRE(cache.Put({Entry("cust-000001", "v3", {"P2"})}).has_value());
  got = GetWithin(cache, "cust-000001", milliseconds(5'000));
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  CHECK((*got)->model_version == "v3");

  // Restarted while the connections are open and idle: a lookup on a stale connection
  // reconnects within the request and is answered, not failed.
  std::this_thread::sleep_for(TestOptions(port).reconnect_interval + milliseconds(100));
  redis.Kill();
  REQUIRE(redis.Start());
  REQUIRE(cache.Put({Entry("cust-000002", "v4", {"P1"})}).has_value());
  got = cache.Get("cust-000002");
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  CHECK((*got)->model_version == "v4");
}

}  // namespace
}  // namespace abrec
