#include "recommender/serving/redis_candidate_cache.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "base/borrow_pool.h"
#include "base/log.h"

namespace abrec {

std::string RedisCandidateKey(std::string_view user_id) {
  return fmt::format("abrec:candidates:{}", user_id);
}

namespace {

using SteadyClock = std::chrono::steady_clock;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval ToTimeval(std::chrono::milliseconds ms) {
  const auto count = std::max<std::int64_t>(1, ms.count());
  return {.tv_sec = static_cast<time_t>(count / 1000),
          .tv_usec = static_cast<suseconds_t>(count % 1000 * 1000)};
}

// hiredis writes with write(2), which raises SIGPIPE on a socket Redis has closed, and the
// default action ends the process. A library must not change the process's disposition, so
// the signal is blocked on this thread for the call and one it raised is consumed before
// unblocking (the usual idiom where MSG_NOSIGNAL is out of reach).
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &old);
    unblock_ = sigismember(&old, SIGPIPE) == 0;
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{};
        while (sigtimedwait(&sigpipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    if (unblock_) pthread_sigmask(SIG_UNBLOCK, &sigpipe_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t sigpipe_;
  bool was_pending_ = false;
  bool unblock_ = false;
};

struct Connection {
  ContextPtr context;                                   // null: not connected
  std::optional<SteadyClock::time_point> last_attempt;  // of the latest connect
};

// Whether a command failed because the connection was closed under it (Redis restarted, or
// closed an idle client), rather than because Redis is slow (a timeout: EAGAIN) or the reply
// is malformed. `err_no`: errno right after the failed call.
bool Stale(const redisContext& ctx, int err_no) {
  return ctx.err == REDIS_ERR_EOF ||
         (ctx.err == REDIS_ERR_IO && err_no != EAGAIN && err_no != EINTR);
}

Error Unavailable(std::string message) {
  return Error{ErrorCode::kUnavailable, std::move(message), "cache"};
}

class RedisCandidateCache final : public CandidateCache {
 public:
  explicit RedisCandidateCache(const RedisCacheOptions& options)
      : options_(options), address_(fmt::format("{}:{}", options.host, options.port)) {
    for (int i = 0; i < std::max(1, options_.readers); ++i) {
      readers_.Add(std::make_unique<Connection>());
    }
  }

  Result<std::optional<CachedCandidates>> Get(std::string_view user_id) override {
    const std::string key = RedisCandidateKey(user_id);
    auto c = readers_.Borrow();
    auto reply = Exchange(*c, "GET", [&key](redisContext* ctx) {
      return redisCommand(ctx, "GET %b", key.data(), key.size());
    });
    if (!reply) return std::unexpected(reply.error());
    const redisReply& r = **reply;
    if (r.type == REDIS_REPLY_NIL) return std::optional<CachedCandidates>();
    if (r.type != REDIS_REPLY_STRING) {
      return std::unexpected(Unavailable(fmt::format(
          "redis at {}: GET {} answered reply type {}, not a string", address_, key, r.type)));
    }
    auto entry = DecodeCachedCandidates(user_id, std::string_view(r.str, r.len));
    if (!entry) return std::unexpected(entry.error());
    return std::optional<CachedCandidates>(std::move(*entry));
  }

  Result<void> Put(const std::vector<CachedCandidates>& entries) override {
    // Commands per round trip: enough to hide the latency, few enough that the buffered
    // request stays a few megabytes.
    constexpr std::size_t kPipeline = 1'000;
    std::lock_guard lock(writer_mu_);
    ScopedSigpipeBlock block;
    for (std::size_t start = 0; start < entries.size(); start += kPipeline) {
      const std::span<const CachedCandidates> chunk(entries.data() + start,
                                                    std::min(kPipeline, entries.size() - start));
      bool stale = false;
      auto ok = Pipeline(chunk, stale);
      // SET is idempotent: a chunk refused by a stale connection is sent again, once.
      if (!ok && stale) ok = Pipeline(chunk, stale);
      if (!ok) return ok;
    }
    return {};
  }

  Result<std::int64_t> Erase(std::string_view user_id) override {
    const std::string key = RedisCandidateKey(user_id);
    auto c = readers_.Borrow();
    auto reply = Exchange(*c, "DEL", [&key](redisContext* ctx) {
      return redisCommand(ctx, "DEL %b", key.data(), key.size());
    });
    if (!reply) return std::unexpected(reply.error());
    if ((*reply)->type != REDIS_REPLY_INTEGER) {
      return std::unexpected(
          Unavailable(fmt::format("redis at {}: DEL {} answered reply type {}, not an integer",
                                  address_, key, (*reply)->type)));
    }
    return static_cast<std::int64_t>((*reply)->integer);
  }

  std::string_view kind() const override { return "redis"; }

 private:
  // Connects `c` (locked by the caller) unless it is connected or, with `backoff`, the cache
  // is marked down or `c` tried less than reconnect_interval ago.
  Result<void> Connect(Connection& c, std::chrono::milliseconds timeout, bool backoff) {
    if (c.context) return {};
    const auto now = SteadyClock::now();
    const auto down_until =
        SteadyClock::time_point(SteadyClock::duration(down_until_.load(std::memory_order_relaxed)));
    if (backoff && (now < down_until ||
                    (c.last_attempt && now - *c.last_attempt < options_.reconnect_interval))) {
      return std::unexpected(
          Unavailable(fmt::format("redis at {} is unreachable (retrying every {} ms)", address_,
                                  options_.reconnect_interval.count())));
    }
    c.last_attempt = now;
    ContextPtr ctx(
        redisConnectWithTimeout(options_.host.c_str(), options_.port, ToTimeval(timeout)));
    if (!ctx || ctx->err != 0 || redisSetTimeout(ctx.get(), ToTimeval(timeout)) != REDIS_OK) {
      const std::string why = ctx ? std::string(ctx->errstr) : "out of memory";
      down_until_.store((now + options_.reconnect_interval).time_since_epoch().count(),
                        std::memory_order_relaxed);
      if (up_.exchange(false, std::memory_order_relaxed)) {
        LogWarning(
            "candidate cache: redis at {} is unreachable ({}); requests compute their "
            "candidates on the fly until it is back",
            address_, why);
      }
      return std::unexpected(Unavailable(fmt::format("redis at {}: {}", address_, why)));
    }
    c.context = std::move(ctx);
    if (!up_.exchange(true, std::memory_order_relaxed)) {
      LogInfo("candidate cache: redis at {} is reachable again", address_);
    }
    return {};
  }

  // The error of `c`'s failed command; the connection is dropped, to be reconnected by a
  // later request.
  Error Broken(Connection& c, std::string_view command) {
    Error e = Unavailable(fmt::format("redis at {}: {}: {}", address_, command,
                                      c.context ? c.context->errstr : "not connected"));
    c.context.reset();
    return e;
  }

  // One command on reader `c` (locked by the caller): `send` issues it with redisCommand.
  // A connection found stale is reconnected and the command sent again, once: after a
  // Redis restart, or an idle connection closed by Redis, the first request is not lost.
  template <typename Send>
  Result<ReplyPtr> Exchange(Connection& c, std::string_view command, Send send) {
    ScopedSigpipeBlock block;
    for (int attempt = 0;; ++attempt) {
      const bool reused = c.context != nullptr;
      if (auto ok = Connect(c, options_.timeout, /*backoff=*/true); !ok) {
        return std::unexpected(ok.error());
      }
      ReplyPtr reply(static_cast<redisReply*>(send(c.context.get())));
      const int err_no = errno;
      if (!reply) {
        const bool retry = reused && attempt == 0 && Stale(*c.context, err_no);
        Error e = Broken(c, command);
        if (retry) continue;
        return std::unexpected(std::move(e));
      }
      if (reply->type == REDIS_REPLY_ERROR) {
        return std::unexpected(Unavailable(fmt::format("redis at {}: {}: {}", address_, command,
                                                       std::string_view(reply->str, reply->len))));
      }
      return reply;
    }
  }

  // One pipeline of SETs on the writer (locked by the caller). `stale`: it failed before
  // any reply on a connection opened earlier, which Redis had closed.
  Result<void> Pipeline(std::span<const CachedCandidates> chunk, bool& stale) {
    stale = false;
    const bool reused = writer_.context != nullptr;
    if (auto ok = Connect(writer_, options_.write_timeout, /*backoff=*/false); !ok) return ok;
    redisContext* ctx = writer_.context.get();
    for (const CachedCandidates& e : chunk) {
      const std::string key = RedisCandidateKey(e.user_id);
      const std::string value = EncodeCachedCandidates(e);
      if (redisAppendCommand(ctx, "SET %b %b", key.data(), key.size(), value.data(),
                             value.size()) != REDIS_OK) {
        return std::unexpected(Broken(writer_, "SET"));
      }
    }
    std::optional<Error> refused;
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK) {
        stale = reused && i == 0 && Stale(*ctx, errno);
        return std::unexpected(Broken(writer_, "SET"));
      }
      ReplyPtr reply(static_cast<redisReply*>(raw));
      // Every reply is read, even after an error, so the connection stays in step.
      if (reply->type == REDIS_REPLY_ERROR && !refused) {
        refused = Unavailable(fmt::format("redis at {}: SET {}: {}", address_,
                                          RedisCandidateKey(chunk[i].user_id),
                                          std::string_view(reply->str, reply->len)));
      }
    }
    if (refused) return std::unexpected(std::move(*refused));
    return {};
  }

  const RedisCacheOptions options_;
  const std::string address_;       // HOST:PORT, for messages
  BorrowPool<Connection> readers_;  // Get and Erase
  std::mutex writer_mu_;            // Put
  Connection writer_;
  // steady_clock ticks until which connects are not attempted (a connect just failed).
  std::atomic<SteadyClock::rep> down_until_{0};
  std::atomic<bool> up_{true};  // for logging the transitions only
};

}  // namespace

Result<std::unique_ptr<CandidateCache>> OpenRedisCandidateCache(const RedisCacheOptions& options) {
  if (options.host.empty()) {
    return std::unexpected(
        Error::InvalidArgument("the Redis host is empty", "recommender.redis_address"));
  }
  if (options.port < 1 || options.port > 65'535) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("the Redis port must be 1..65535, got {}", options.port),
                               "recommender.redis_address"));
  }
  return std::unique_ptr<CandidateCache>(std::make_unique<RedisCandidateCache>(options));
}

}  // namespace abrec
